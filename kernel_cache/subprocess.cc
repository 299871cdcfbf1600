#include "kernel_cache/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ktstr::kcache {
namespace {

// Process groups of running children, for the signal handler (async-signal-safe reads).
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_child_groups[kMaxChildren];

void RegisterChild(pid_t pgid) {
  for (auto& slot : g_child_groups) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pgid)) return;
  }
}

void UnregisterChild(pid_t pgid) {
  for (auto& slot : g_child_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void ForwardSignal(int sig) {
  for (auto& slot : g_child_groups) {
    pid_t pgid = slot.load();
    if (pgid > 0) kill(-pgid, SIGTERM);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

// In the child: set up fds, cwd, env, exec. Never returns; exit 127 on failure.
[[noreturn]] void ExecChild(const std::vector<std::string>& argv, const CommandOptions& o,
                            int out_fd, int err_pipe_w) {
  int in = open(o.stdin_path.empty() ? "/dev/null" : o.stdin_path.c_str(), O_RDONLY);
  if (in >= 0) dup2(in, 0);
  int out = out_fd;
  if (!o.stdout_path.empty()) {
    out = open(o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) _exit(127);
  }
  dup2(out, 1);
  dup2(out_fd, 2);
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) _exit(127);
  for (const auto& [k, v] : o.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  int e = errno;
  (void)!write(err_pipe_w, &e, sizeof(e));
  _exit(127);
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& o) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError("pipe failed");
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Own process group so a timeout kills make and all its children; die with the caller.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    ExecChild(argv, o, out_pipe[1], err_pipe[1]);
  }
  setpgid(pid, pid);  // also here: no race with the signal handler or a timeout kill
  RegisterChild(pid);
  absl::Cleanup unregister = [pid] { UnregisterChild(pid); };
  close(out_pipe[1]);
  close(err_pipe[1]);
  absl::Cleanup close_fds = [&] {
    close(out_pipe[0]);
    close(err_pipe[0]);
  };
  int exec_errno = 0;
  bool exec_failed = read(err_pipe[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno);

  int log_fd = -1;
  if (!o.log_path.empty())
    log_fd = open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  absl::Cleanup close_log = [log_fd] {
    if (log_fd >= 0) close(log_fd);
  };

  CommandResult result;
  std::string partial;
  absl::Time deadline = absl::Now() + o.timeout;
  char buf[65536];
  while (true) {
    int wait_ms = -1;
    if (o.timeout != absl::InfiniteDuration()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        kill(-pid, SIGKILL);
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    }
    struct pollfd pfd = {out_pipe[0], POLLIN, 0};
    int pr = poll(&pfd, 1, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;
    ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    absl::string_view chunk(buf, static_cast<size_t>(n));
    if (log_fd >= 0) (void)!write(log_fd, chunk.data(), chunk.size());
    result.output_tail.append(chunk.data(), chunk.size());
    if (result.output_tail.size() > 2 * o.keep_tail_bytes) {
      result.output_tail.erase(0, result.output_tail.size() - o.keep_tail_bytes);
    }
    if (o.on_line) {
      partial.append(chunk.data(), chunk.size());
      size_t start = 0, nl;
      while ((nl = partial.find('\n', start)) != std::string::npos) {
        o.on_line(absl::string_view(partial).substr(start, nl - start));
        start = nl + 1;
      }
      partial.erase(0, start);
    }
  }
  if (o.on_line && !partial.empty()) o.on_line(partial);
  if (result.output_tail.size() > o.keep_tail_bytes) {
    result.output_tail.erase(0, result.output_tail.size() - o.keep_tail_bytes);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exec_failed) {
    std::string msg = absl::StrCat("cannot run ", argv[0], ": ", std::strerror(exec_errno));
    return exec_errno == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

void ForwardTerminationSignalsToChildren() {
  // A signal ignored at startup (e.g. SIGINT of a background job) stays ignored.
  for (int sig : {SIGINT, SIGTERM}) {
    if (signal(sig, ForwardSignal) == SIG_IGN) signal(sig, SIG_IGN);
  }
}

absl::StatusOr<CommandResult> RunCommandOk(const std::vector<std::string>& argv,
                                           const CommandOptions& o) {
  absl::StatusOr<CommandResult> r = RunCommand(argv, o);
  if (!r.ok()) return r.status();
  if (r->timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        "`", absl::StrJoin(argv, " "), "` timed out after ", absl::FormatDuration(o.timeout)));
  }
  if (!r->ok()) {
    return absl::InternalError(
        absl::StrCat("`", absl::StrJoin(argv, " "), "` failed (exit ", r->exit_code,
                     r->signal ? absl::StrCat(", signal ", r->signal) : "", "): ", r->output_tail));
  }
  return r;
}

}  // namespace ktstr::kcache
