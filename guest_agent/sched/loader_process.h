// A child process whose stdout and stderr go to a file: the scheduler loader. RAII: destroying
// a LoaderProcess that still runs kills (SIGKILL) and reaps it.
#ifndef KTSTR_GUEST_AGENT_SCHED_LOADER_PROCESS_H_
#define KTSTR_GUEST_AGENT_SCHED_LOADER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ktstr::agent {

class LoaderProcess {
 public:
  // Starts `binary` with `args` (argv[1..]), stdin from /dev/null, stdout+stderr appended to
  // `log_path` (created or truncated). The child gets its own process group. Errors: the log
  // cannot be created, or fork fails. A binary that cannot be executed shows up as exit 127
  // with the reason in the log.
  static absl::StatusOr<std::unique_ptr<LoaderProcess>> Spawn(const std::string& binary,
                                                              const std::vector<std::string>& args,
                                                              const std::string& log_path);
  ~LoaderProcess();
  LoaderProcess(const LoaderProcess&) = delete;
  LoaderProcess& operator=(const LoaderProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the child if it has exited; true while it runs.
  bool Running();
  // Waits up to `timeout` for the child to exit; true if it has.
  bool WaitExit(absl::Duration timeout);
  // Sends `sig` to the child while it runs (no-op after it exited).
  void Signal(int sig);

  // Valid once !Running(): exit code (-1 if killed by a signal) and signal (0 if exited).
  int exit_code() const { return exit_code_; }
  int term_signal() const { return term_signal_; }

 private:
  explicit LoaderProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_LOADER_PROCESS_H_
