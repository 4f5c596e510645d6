// A fuzz target without libFuzzer, for builds made with g++ (the CI's sanitizer build): every
// file of the given corpora once, then random mutations of them (bit flips, byte overwrites,
// truncations, repeated and deleted spans, boundary values) for a number of seconds. Not
// coverage-guided (scripts/fuzz.sh is, with clang), but every input goes through the same
// LLVMFuzzerTestOneInput, so a crash, a sanitizer report or an escaped exception is a finding.
// Mutation i of a run depends only on (--seed, i): a failure names them, and
// `--seed S --only i` runs that input alone.
//   fuzz_replay_<target> [--seconds N] [--seed S] [--only I] CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present in sanitizer builds: called before a sanitizer ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// One mutation (or a few stacked) of `s`, drawn from `rng`.
void mutate(std::string& s, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % (n == 0 ? 1 : n)); };
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < steps; ++k) {
    switch (rng() % 7) {
      case 0:  // flip one bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // overwrite a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 2:  // boundary values where headers keep sizes and counts
        if (s.size() >= 4) {
          static const uint32_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff,
                                             0x7fffffff, 0x80000000u, 0xffffffffu};
          const uint32_t v = kValues[rng() % (sizeof kValues / sizeof kValues[0])];
          const size_t at = pick(s.size() - 3);
          for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>((v >> (8 * b)) & 0xff);
        }
        break;
      case 3:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 4:  // delete a span
        if (!s.empty()) {
          const size_t at = pick(s.size());
          s.erase(at, pick(s.size() - at) + 1);
        }
        break;
      case 5:  // repeat a span
        if (!s.empty() && s.size() < (1u << 20)) {
          const size_t at = pick(s.size());
          const std::string span = s.substr(at, pick(64) + 1);
          s.insert(pick(s.size() + 1), span);
        }
        break;
      default:  // insert random bytes
        if (s.size() < (1u << 20)) {
          std::string bytes(pick(16) + 1, '\0');
          for (char& c : bytes) c = static_cast<char>(rng());
          s.insert(pick(s.size() + 1), bytes);
        }
        break;
    }
  }
}

// What is running, for the message when a sanitizer ends the process.
const char* g_program = "";
uint64_t g_seed = 0;
long long g_mutation = -1;
const char* g_corpus_file = nullptr;

void say_what_ran() {
  if (g_mutation >= 0)
    std::fprintf(stderr, "fuzz replay: during mutation %lld; reproduce: %s --seed %llu --only %lld "
                 "CORPUS...\n", g_mutation, g_program, static_cast<unsigned long long>(g_seed),
                 g_mutation);
  else if (g_corpus_file)
    std::fprintf(stderr, "fuzz replay: during corpus file %s\n", g_corpus_file);
}

void run_one(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  uint64_t seed = 1;
  long long only = -1;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--seconds" || a == "--seed" || a == "--only") && i + 1 < argc) {
      const char* v = argv[++i];
      if (a == "--seconds") seconds = std::atof(v);
      else if (a == "--seed") seed = std::strtoull(v, nullptr, 10);
      else only = std::atoll(v);
    } else if (fs::is_directory(a)) {
      for (const auto& e : fs::recursive_directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(a)) {
      files.push_back(a);
    } else {
      std::cerr << "fuzz replay: " << a << " is neither an option nor a file or directory\n"
                << "usage: " << argv[0] << " [--seconds N] [--seed S] [--only I] CORPUS...\n";
      return 2;
    }
  }
  if (files.empty()) {
    std::cerr << "fuzz replay: no corpus files given\n";
    return 2;
  }
  std::sort(files.begin(), files.end());  // a fixed order, so --only names the same input
  std::vector<std::string> corpus;
  for (const auto& f : files) corpus.push_back(read_file(f));

  g_program = argv[0];
  g_seed = seed;
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_what_ran);
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.string());
  try {
    if (only < 0) {
      for (size_t i = 0; i < corpus.size(); ++i) {
        g_corpus_file = names[i].c_str();
        run_one(corpus[i]);
      }
    }
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start +
                          std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    long long i = only >= 0 ? only : 0;
    for (; only >= 0 || std::chrono::steady_clock::now() < deadline; ++i) {
      g_mutation = i;
      std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i));
      std::string input = corpus[static_cast<size_t>(rng() % corpus.size())];
      mutate(input, rng);
      run_one(input);
      if (only >= 0) break;
    }
    std::printf("%s: %zu corpus files and %lld mutations (seed %llu) in %.0f s, no findings\n",
                fs::path(argv[0]).filename().c_str(), corpus.size(), only >= 0 ? 1 : i,
                static_cast<unsigned long long>(seed),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: an exception escaped the target: %s\n", e.what());
  }
  say_what_ran();
  return 1;
}
