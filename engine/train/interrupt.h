#pragma once
// Stopping a run cleanly on SIGINT/SIGTERM. The signal handlers only record the request; the
// training loop polls stop_requested() after each optimizer step, writes a checkpoint and throws
// Interrupted, and main() turns that into exit code 128 + signal (130 for SIGINT, 143 for
// SIGTERM). A second SIGINT while the first is being handled kills the process at once (the
// default action), for when the checkpoint itself hangs.
#include "engine/core/error.h"

namespace te {

class Interrupted : public Error {
 public:
  Interrupted(int signal, const std::string& message) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }
  // The conventional shell exit status for death by this signal.
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// Installs the SIGINT/SIGTERM handlers (idempotent).
void install_stop_handlers();
// Restores the default actions (e.g. after the run finished).
void remove_stop_handlers();
bool stop_requested();
// The signal that asked to stop (0 when none).
int stop_signal();
// Requests a stop as if `signal` had arrived (tests), or clears it with 0.
void request_stop(int signal);

}  // namespace te
