#include "engine/distributed/tcp_rendezvous.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>

#include "engine/distributed/communicator.h"

namespace te {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMagic = 0x54455256;  // "TERV": a stray client is not taken for a rank

// Closes on every path out.
struct Socket {
  int fd = -1;
  explicit Socket(int f = -1) : fd(f) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

class Rendezvous {
 public:
  Rendezvous(const LaunchInfo& launch, double timeout_s)
      : launch_(launch),
        deadline_(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s))),
        where_(launch.master_addr + ":" + std::to_string(launch.master_port)) {
    if (launch.master_addr.empty() || launch.master_port <= 0)
      throw ConfigError("launched as " + launch.describe() + " without mpirun: the TCP rendezvous "
                        "needs MASTER_ADDR and MASTER_PORT (rank 0's address and a free port), "
                        "as torchrun sets them");
  }

  std::string root(const std::string& payload) {
    Socket listener(open_socket(true));
    std::set<uint32_t> seen;
    while (static_cast<int>(seen.size()) < launch_.world_size - 1) {
      wait_for(listener.fd, POLLIN, "the other ranks to connect (" + std::to_string(seen.size()) +
                                        " of " + std::to_string(launch_.world_size - 1) + " did)");
      Socket peer(::accept(listener.fd, nullptr, nullptr));
      if (peer.fd < 0) continue;  // the client gave up meanwhile
      uint32_t hello[3] = {};
      exchange(peer.fd, hello, sizeof(hello), false);
      if (hello[0] != kMagic) continue;  // not one of ours
      if (hello[2] != static_cast<uint32_t>(launch_.world_size) || hello[1] == 0 ||
          hello[1] >= hello[2] || seen.count(hello[1]))
        fail("a peer says it is rank " + std::to_string(hello[1]) + " of " + std::to_string(hello[2]) +
             (seen.count(hello[1]) ? ", a rank that already connected" : "") +
             ": every rank must have the same WORLD_SIZE and its own RANK");
      const uint64_t n = payload.size();
      exchange(peer.fd, const_cast<uint64_t*>(&n), sizeof(n), true);
      exchange(peer.fd, const_cast<char*>(payload.data()), payload.size(), true);
      seen.insert(hello[1]);
    }
    return payload;
  }

  std::string peer() {
    Socket s(open_socket(false));
    uint32_t hello[3] = {kMagic, static_cast<uint32_t>(launch_.rank),
                         static_cast<uint32_t>(launch_.world_size)};
    exchange(s.fd, hello, sizeof(hello), true);
    uint64_t n = 0;
    exchange(s.fd, &n, sizeof(n), false);
    if (n > (1u << 20)) fail("rank 0 announced " + std::to_string(n) + " bytes: not our rendezvous");
    std::string out(static_cast<size_t>(n), '\0');
    exchange(s.fd, out.data(), out.size(), false);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what, int err = 0) const {
    throw DistributedError("rank " + std::to_string(launch_.rank) + ": TCP rendezvous at " + where_ +
                           " (MASTER_ADDR:MASTER_PORT): " + what +
                           (err ? std::string(" (") + std::strerror(err) + ")" : std::string()));
  }

  int remaining_ms() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return left > 0 ? static_cast<int>(std::min<int64_t>(left, 1 << 30)) : 0;
  }

  void wait_for(int fd, short events, const std::string& what) const {
    for (;;) {
      pollfd p{fd, events, 0};
      const int r = ::poll(&p, 1, remaining_ms());
      if (r > 0) return;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail("poll", errno);
      fail("gave up waiting for " + what);
    }
  }

  // All of `bytes`, or an error naming the direction.
  void exchange(int fd, void* data, size_t bytes, bool sending) const {
    char* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes;) {
      wait_for(fd, sending ? POLLOUT : POLLIN, sending ? "the peer to take data" : "data from the peer");
      const ssize_t k = sending ? ::send(fd, p + done, bytes - done, MSG_NOSIGNAL)
                                : ::recv(fd, p + done, bytes - done, 0);
      if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (k < 0) fail(sending ? "send" : "recv", errno);
      if (k == 0) fail("the peer closed the connection (see its message)");
      done += static_cast<size_t>(k);
    }
  }

  // Rank 0: a listening socket on the address; the others: a connected one, retried while
  // rank 0 is not listening yet (the ranks start in any order).
  int open_socket(bool listen) const {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (listen) hints.ai_flags = AI_PASSIVE;
    for (;;) {
      addrinfo* found = nullptr;
      const std::string port = std::to_string(launch_.master_port);
      const int g = ::getaddrinfo(launch_.master_addr.c_str(), port.c_str(), &hints, &found);
      if (g != 0) fail(std::string("cannot resolve the address: ") + ::gai_strerror(g));
      int err = 0;
      for (addrinfo* a = found; a; a = a->ai_next) {
        Socket s(::socket(a->ai_family, a->ai_socktype, a->ai_protocol));
        if (s.fd < 0) { err = errno; continue; }
        const int one = 1;
        if (listen) {
          ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
          if (::bind(s.fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(s.fd, launch_.world_size) == 0) {
            ::freeaddrinfo(found);
            const int fd = s.fd;
            s.fd = -1;
            return fd;
          }
        } else if (::connect(s.fd, a->ai_addr, a->ai_addrlen) == 0) {
          ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          ::freeaddrinfo(found);
          const int fd = s.fd;
          s.fd = -1;
          return fd;
        }
        err = errno;
      }
      ::freeaddrinfo(found);
      if (listen) fail("rank 0 cannot listen there", err);
      if (remaining_ms() == 0) fail("rank 0 never accepted a connection", err);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const LaunchInfo& launch_;
  Clock::time_point deadline_;
  std::string where_;
};

}  // namespace

std::string tcp_broadcast_from_root(const LaunchInfo& launch, const std::string& payload,
                                    double timeout_s) {
  if (!launch.distributed()) return payload;
  Rendezvous r(launch, timeout_s);
  return launch.rank == 0 ? r.root(payload) : r.peer();
}

}  // namespace te
