#pragma once
// Pieces shared by the data-parallel tests: a tiny IDX data set, a run config over it, running
// a command (mpirun) and capturing its output.
#include <cstdint>
#include <string>
#include <vector>

namespace te::testing {

// dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte: 8x8 grey images of 3 learnable classes.
void write_tiny_idx(const std::string& dir, int train, int test);

// A run config over write_tiny_idx's data; `bn` adds a batch-norm layer; `extra` is appended.
std::string tiny_idx_config(const std::string& data, bool bn, int64_t batch, const std::string& extra = "");

std::string temp_dir(const std::string& name);  // fresh and empty
void write_text_file(const std::string& path, const std::string& text);
std::string read_text_file(const std::string& path);

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
Ran run_shell(const std::string& command);  // /bin/sh -c, output captured

// "mpirun --oversubscribe --bind-to none [--allow-run-as-root] -np N", or "" without MPI.
std::string mpirun_prefix(int ranks);
int count_of(const std::string& text, const std::string& needle);  // occurrences of needle
std::string trainer_path();

// Runs this test executable under `launcher` (an mpirun prefix and its options) with the rank
// tests of the disabled suite `suite` enabled; expects every one of the 2 ranks to pass all
// `tests` of them, none skipped (for want of a launcher).
void expect_rank_tests_pass(const std::string& launcher, const std::string& suite, int tests);

}  // namespace te::testing
