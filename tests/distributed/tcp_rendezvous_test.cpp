// The TCP rendezvous of torchrun-style launches, with ranks as threads on the loopback.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <thread>
#include <vector>

#include "engine/distributed/communicator.h"
#include "engine/distributed/tcp_rendezvous.h"

namespace te {
namespace {

// A port nothing listens on right now (the kernel's choice of a free one).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

LaunchInfo torchrun(int rank, int size, int port) {
  LaunchInfo l;
  l.launcher = "torchrun";
  l.rank = rank;
  l.world_size = size;
  l.master_addr = "127.0.0.1";
  l.master_port = port;
  return l;
}

struct Outcome {
  std::string value, error;
};

// Runs the ranks (launch infos) on threads; the first `late_root_ms` delays rank 0.
std::vector<Outcome> run_ranks(const std::vector<LaunchInfo>& ranks, const std::string& payload,
                               double timeout_s, int late_root_ms = 0) {
  std::vector<Outcome> out(ranks.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ranks.size(); ++i)
    threads.emplace_back([&, i] {
      if (ranks[i].rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(late_root_ms));
      try {
        out[i].value = tcp_broadcast_from_root(ranks[i], ranks[i].rank == 0 ? payload : "not mine", timeout_s);
      } catch (const std::exception& e) {
        out[i].error = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return out;
}

TEST(TcpRendezvous, EveryRankGetsRankZerosBytesWhicheverStartsFirst) {
  const int port = free_port();
  std::string id(128, '\0');  // an NCCL unique id's size, zero bytes included
  for (size_t i = 0; i < id.size(); i += 3) id[i] = static_cast<char>(i * 7 + 1);
  const auto out = run_ranks({torchrun(0, 3, port), torchrun(1, 3, port), torchrun(2, 3, port)}, id,
                             10, /*late_root_ms=*/200);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].error, "") << "rank " << i;
    EXPECT_EQ(out[i].value, id) << "rank " << i;
  }
}

TEST(TcpRendezvous, APeerWithoutRankZeroGivesUpAtTheTimeoutNamingTheAddress) {
  const int port = free_port();
  const auto start = std::chrono::steady_clock::now();
  try {
    tcp_broadcast_from_root(torchrun(1, 2, port), "", 0.3);
    FAIL() << "no error";
  } catch (const DistributedError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 1: TCP rendezvous at 127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
    EXPECT_NE(what.find("never accepted"), std::string::npos) << what;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(TcpRendezvous, RankZeroGivesUpWhenAPeerNeverComes) {
  const auto out = run_ranks({torchrun(0, 3, free_port())}, "id", 0.3);
  EXPECT_NE(out[0].error.find("gave up waiting for the other ranks to connect (0 of 2 did)"), std::string::npos)
      << out[0].error;
}

TEST(TcpRendezvous, ADuplicateRankIsRefusedOnBothSides) {
  const int port = free_port();
  const auto out = run_ranks({torchrun(0, 3, port), torchrun(1, 3, port), torchrun(1, 3, port)}, "id", 10);
  EXPECT_NE(out[0].error.find("rank 1 of 3, a rank that already connected"), std::string::npos) << out[0].error;
  // One of the two rank 1s got the bytes, the other an error (rank 0 closed on it).
  const int errors = (out[1].error.empty() ? 0 : 1) + (out[2].error.empty() ? 0 : 1);
  EXPECT_EQ(errors, 1) << out[1].error << " / " << out[2].error;
}

TEST(TcpRendezvous, WithoutMasterAddrItIsAConfigError) {
  LaunchInfo l = torchrun(1, 2, 0);
  l.master_addr.clear();
  try {
    tcp_broadcast_from_root(l, "", 1);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs MASTER_ADDR and MASTER_PORT"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace te
