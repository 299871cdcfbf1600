// Spawning and watching one guest process: argv, env, cwd, cgroup, timeout, streamed
// stdout/stderr, optional stdin and an optional result pipe (RunTest's --ktstr-result-fd).
//
// The agent process owns its children directly and waits for each through a pidfd; it never
// calls waitpid(-1), so other code in the agent (the scheduler supervisor) can wait for its own
// children. Orphans are reaped by the PID 1 shell around the agent (main.cc).
#ifndef KTSTR_GUEST_AGENT_EXEC_H_
#define KTSTR_GUEST_AGENT_EXEC_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

namespace config {
// How long output is still collected after the main process exited: children it left behind
// may hold the pipes open forever, so the group is killed after this.
inline constexpr std::chrono::milliseconds kDrainAfterExit{300};
// Largest chunk sent in one Output message; smaller chunks go out as soon as they arrive.
inline constexpr size_t kOutputChunkBytes = 64 << 10;
// Cap on a test's result-pipe bytes: a TestReport is small, and the TestResult carrying it
// must fit one frame (wire.h kMaxPayloadBytes).
inline constexpr size_t kMaxResultBytes = 3 << 20;
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}  // namespace config

struct ProcessSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (and overriding) the base environment
  std::string cwd;                         // "" = "/"
  std::string cgroup_dir;                  // absolute cgroup directory; "" = stay where we are
  std::chrono::milliseconds timeout{0};    // 0 = none
  bool stdin_open = false;
  // Run on a new pseudo-terminal (its own session, the terminal as controlling tty): output
  // comes merged as STREAM_STDOUT and stdin is typed into the terminal.
  bool pty = false;
  uint16_t pty_rows = 24, pty_cols = 80;
  // When >= 0 a pipe's write end is placed at this fd number in the child and everything
  // written to it is returned in ProcessOutcome::result.
  int result_fd = -1;
};

struct ProcessOutcome {
  v1::ExecExit exit;
  std::string result;  // bytes from the result pipe
};

using OutputFn = std::function<void(v1::Output::Stream, absl::string_view)>;

// Resolves argv[0] through PATH (from `env`, else the default) when it has no '/'.
absl::StatusOr<std::string> ResolveExecutable(const std::string& argv0, const std::string& path);

class RunningProcess {
 public:
  // Forks and execs. Errors (not found, exec failure, bad cgroup) come back here, never as a
  // fake exit code.
  static absl::StatusOr<std::unique_ptr<RunningProcess>> Start(const ProcessSpec& spec);
  ~RunningProcess();
  RunningProcess(const RunningProcess&) = delete;
  RunningProcess& operator=(const RunningProcess&) = delete;

  // Streams output through `on_output` until the process has exited and its pipes are
  // drained; enforces the timeout; returns how it ended. Call once.
  ProcessOutcome Wait(const OutputFn& on_output);

  // Kills the process group; Wait() then reports cancelled. Thread-safe.
  void Cancel();
  // Queues stdin bytes (only with stdin_open); eof closes the child's stdin. Thread-safe.
  void WriteStdin(std::string data, bool eof);
  // Sets the terminal size (pty only). Thread-safe.
  absl::Status Resize(uint16_t rows, uint16_t cols);

  pid_t pid() const { return pid_; }

 private:
  RunningProcess() = default;
  void Wake();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1, err_fd_ = -1, result_fd_ = -1, stdin_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Cancel() and WriteStdin() wake Wait()
  int pty_master_ = -1;  // for Resize; reading and writing use dups in out_fd_/stdin_fd_
  std::chrono::milliseconds timeout_{0};
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  std::string stdin_queue_ ABSL_GUARDED_BY(mu_);
  bool stdin_eof_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_EXEC_H_
