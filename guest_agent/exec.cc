#include "guest_agent/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace ktstr::agent {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Everything the child needs, built before fork so the child only makes async-signal-safe
// calls.
struct ChildPlan {
  std::string exe;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  std::string cwd;
  int cgroup_procs_fd = -1;
  int stdin_r = -1, out_w = -1, err_w = -1, result_w = -1, result_fd = -1;
  std::string pty_slave;  // with a pty: the terminal to open as stdio and controlling tty
  int errpipe_w = -1;
};

[[noreturn]] void ChildFail(int errpipe, int err) {
  ssize_t unused = ::write(errpipe, &err, sizeof err);
  (void)unused;
  ::_exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& p) {
  // Reset what the agent changed: default signal dispositions and an empty mask.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  if (!p.pty_slave.empty()) {
    // A new session whose controlling terminal is the pty (job control works in shells).
    if (::setsid() < 0) ChildFail(p.errpipe_w, errno);
    int tty = ::open(p.pty_slave.c_str(), O_RDWR | O_CLOEXEC);
    if (tty < 0 || ::ioctl(tty, TIOCSCTTY, 0) < 0) ChildFail(p.errpipe_w, errno);
  } else {
    ::setpgid(0, 0);
  }
  if (p.cgroup_procs_fd >= 0 && ::write(p.cgroup_procs_fd, "0", 1) != 1) ChildFail(p.errpipe_w, errno);
  // Move the result pipe first, in case its target number collides with 0..2.
  int result_w = p.result_w;
  if (result_w >= 0 && result_w <= 2) {
    result_w = ::fcntl(result_w, F_DUPFD_CLOEXEC, 3);
    if (result_w < 0) ChildFail(p.errpipe_w, errno);
  }
  if (!p.pty_slave.empty()) {
    int tty = ::open(p.pty_slave.c_str(), O_RDWR | O_CLOEXEC);
    if (tty < 0 || ::dup2(tty, 0) < 0 || ::dup2(tty, 1) < 0 || ::dup2(tty, 2) < 0)
      ChildFail(p.errpipe_w, errno);
  } else {
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int in = p.stdin_r >= 0 ? p.stdin_r : devnull;
    if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(p.out_w, 1) < 0 || ::dup2(p.err_w, 2) < 0)
      ChildFail(p.errpipe_w, errno);
  }
  if (result_w >= 0 && ::dup2(result_w, p.result_fd) < 0) ChildFail(p.errpipe_w, errno);
  if (::chdir(p.cwd.c_str()) != 0) ChildFail(p.errpipe_w, errno);
  ::execve(p.exe.c_str(), p.argv.data(), p.envp.data());
  ChildFail(p.errpipe_w, errno);
}

}  // namespace

absl::StatusOr<std::string> ResolveExecutable(const std::string& argv0, const std::string& path) {
  if (argv0.find('/') != std::string::npos) {
    if (::access(argv0.c_str(), X_OK) != 0)
      return absl::NotFoundError(absl::StrCat(argv0, ": ", std::strerror(errno)));
    return argv0;
  }
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string cand = absl::StrCat(dir, "/", argv0);
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0)
      return cand;
  }
  return absl::NotFoundError(absl::StrCat(argv0, ": not found in PATH=", path));
}

absl::StatusOr<std::unique_ptr<RunningProcess>> RunningProcess::Start(const ProcessSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty argv");
  ChildPlan plan;
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    absl::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != absl::string_view::npos) env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  if (!env.count("PATH")) env["PATH"] = config::kDefaultPath;
  auto exe = ResolveExecutable(spec.argv[0], env["PATH"]);
  if (!exe.ok()) return exe.status();
  plan.exe = *exe;
  plan.argv_s = spec.argv;
  for (const auto& [k, v] : env) plan.env_s.push_back(absl::StrCat(k, "=", v));
  for (auto& s : plan.argv_s) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_s) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  plan.cwd = spec.cwd.empty() ? "/" : spec.cwd;
  plan.result_fd = spec.result_fd;

  std::unique_ptr<RunningProcess> proc(new RunningProcess());
  proc->timeout_ = spec.timeout;
  int cg = -1, out[2] = {-1, -1}, err[2] = {-1, -1}, res[2] = {-1, -1}, in[2] = {-1, -1},
      ep[2] = {-1, -1};
  auto cleanup = [&] {
    for (int* fd : {&cg, &out[0], &out[1], &err[0], &err[1], &res[0], &res[1], &in[0], &in[1],
                    &ep[0], &ep[1]})
      CloseFd(*fd);
  };
  if (!spec.cgroup_dir.empty()) {
    std::string procs = absl::StrCat(spec.cgroup_dir, "/cgroup.procs");
    cg = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (cg < 0) {
      absl::Status s = Errno(absl::StrCat("open ", procs));
      cleanup();
      return s;
    }
  }
  int master = -1;
  if (spec.pty) {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[128];
    struct winsize ws = {};
    ws.ws_row = spec.pty_rows;
    ws.ws_col = spec.pty_cols;
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
        ::ptsname_r(master, name, sizeof name) != 0 || ::ioctl(master, TIOCSWINSZ, &ws) != 0) {
      absl::Status s = Errno("pseudo-terminal");
      if (master >= 0) ::close(master);
      cleanup();
      return s;
    }
    plan.pty_slave = name;
    // Output is read from the master, stdin written to it; no stdout/stderr pipes.
    out[0] = ::fcntl(master, F_DUPFD_CLOEXEC, 3);
    in[1] = ::fcntl(master, F_DUPFD_CLOEXEC, 3);
    proc->pty_master_ = master;
  }
  if ((!spec.pty && (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) ||
                     (spec.stdin_open && ::pipe2(in, O_CLOEXEC)))) ||
      ::pipe2(ep, O_CLOEXEC) || (spec.result_fd >= 0 && ::pipe2(res, O_CLOEXEC)) ||
      (spec.pty && (out[0] < 0 || in[1] < 0))) {
    absl::Status s = Errno("pipe2");
    cleanup();
    return s;
  }
  plan.cgroup_procs_fd = cg;
  plan.out_w = out[1];
  plan.err_w = err[1];
  plan.result_w = res[1];
  plan.stdin_r = in[0];
  plan.errpipe_w = ep[1];

  pid_t pid = ::fork();
  if (pid < 0) {
    absl::Status s = Errno("fork");
    cleanup();
    return s;
  }
  if (pid == 0) RunChild(plan);

  // Parent. The error pipe reads EOF when execve succeeded (CLOEXEC), else the errno.
  CloseFd(ep[1]);
  int child_errno = 0;
  ssize_t n;
  do n = ::read(ep[0], &child_errno, sizeof child_errno); while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    cleanup();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", plan.exe, ": ", std::strerror(child_errno)));
  }
  // Also done in the child; whichever runs first wins the race. A pty child calls setsid(),
  // which would fail if we had made it a group leader first.
  if (!spec.pty) ::setpgid(pid, pid);
  proc->pid_ = pid;
  proc->started_ = std::chrono::steady_clock::now();
  proc->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (proc->pidfd_ < 0) spdlog::warn("pidfd_open: {}; exit detected by polling", std::strerror(errno));
  proc->out_fd_ = out[0];
  out[0] = -1;
  proc->err_fd_ = err[0];
  err[0] = -1;
  proc->result_fd_ = res[0];
  res[0] = -1;
  proc->stdin_fd_ = in[1];
  in[1] = -1;
  if (proc->stdin_fd_ >= 0) ::fcntl(proc->stdin_fd_, F_SETFL, O_NONBLOCK);
  proc->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  cleanup();
  return proc;
}

RunningProcess::~RunningProcess() {
  if (pid_ > 0) {
    // Wait() was not called or did not finish: never leave the group running or a zombie.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int* fd : {&pidfd_, &out_fd_, &err_fd_, &result_fd_, &stdin_fd_, &wake_fd_, &pty_master_})
    CloseFd(*fd);
}

absl::Status RunningProcess::Resize(uint16_t rows, uint16_t cols) {
  if (pty_master_ < 0) return absl::FailedPreconditionError("not running on a pty");
  struct winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(pty_master_, TIOCSWINSZ, &ws) != 0) return Errno("TIOCSWINSZ");
  return absl::OkStatus();
}

void RunningProcess::Wake() {
  uint64_t one = 1;
  ssize_t unused = ::write(wake_fd_, &one, sizeof one);
  (void)unused;
}

void RunningProcess::Cancel() {
  cancelled_ = true;
  Wake();
}

void RunningProcess::WriteStdin(std::string data, bool eof) {
  {
    absl::MutexLock lock(&mu_);
    stdin_queue_ += data;
    stdin_eof_ = stdin_eof_ || eof;
  }
  Wake();
}

ProcessOutcome RunningProcess::Wait(const OutputFn& on_output) {
  using Clock = std::chrono::steady_clock;
  ProcessOutcome outcome;
  bool exited = false, timed_out = false, cancelled = false, killed = false;
  int wstatus = 0;
  Clock::time_point exited_at{};
  std::string buf(config::kOutputChunkBytes, '\0');

  auto kill_group = [&] {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case setpgid had not happened yet
    killed = true;
  };
  auto try_reap = [&] {
    if (exited) return;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      exited = true;
      exited_at = Clock::now();
    }
  };

  while (true) {
    try_reap();
    const bool pipes_open = out_fd_ >= 0 || err_fd_ >= 0 || result_fd_ >= 0;
    if (exited && !pipes_open) break;
    Clock::time_point now = Clock::now();
    if (exited && now - exited_at > config::kDrainAfterExit) {
      // Leftover children hold the pipes: end them and stop reading.
      ::kill(-pid_, SIGKILL);
      for (int* fd : {&out_fd_, &err_fd_, &result_fd_}) CloseFd(*fd);
      break;
    }
    if (!exited && !killed) {
      if (cancelled_) {
        cancelled = true;
        kill_group();
      } else if (timeout_.count() > 0 && now - started_ >= timeout_) {
        timed_out = true;
        kill_group();
      }
    }
    // Flush queued stdin.
    bool want_stdin_out = false;
    if (stdin_fd_ >= 0) {
      absl::MutexLock lock(&mu_);
      while (!stdin_queue_.empty()) {
        ssize_t w = ::write(stdin_fd_, stdin_queue_.data(), stdin_queue_.size());
        if (w <= 0) break;
        stdin_queue_.erase(0, static_cast<size_t>(w));
      }
      if (stdin_queue_.empty() && stdin_eof_) CloseFd(stdin_fd_);
      want_stdin_out = stdin_fd_ >= 0 && !stdin_queue_.empty();
    }

    struct pollfd pfds[6];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_res = -1;
    if (out_fd_ >= 0) { idx_out = n; pfds[n++] = {out_fd_, POLLIN, 0}; }
    if (err_fd_ >= 0) { idx_err = n; pfds[n++] = {err_fd_, POLLIN, 0}; }
    if (result_fd_ >= 0) { idx_res = n; pfds[n++] = {result_fd_, POLLIN, 0}; }
    pfds[n++] = {wake_fd_, POLLIN, 0};
    if (pidfd_ >= 0 && !exited) pfds[n++] = {pidfd_, POLLIN, 0};
    if (want_stdin_out) pfds[n++] = {stdin_fd_, POLLOUT, 0};

    int wait_ms = pidfd_ >= 0 ? 1000 : 50;
    if (exited) wait_ms = 50;
    if (!exited && !killed && timeout_.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started_ + timeout_ - now);
      wait_ms = std::max<int>(0, std::min<int>(wait_ms, static_cast<int>(left.count()) + 1));
    }
    int pr = ::poll(pfds, n, wait_ms);
    if (pr < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      kill_group();
    }
    if (pr <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (pfds[i].fd == wake_fd_) {
        uint64_t v;
        ssize_t unused = ::read(wake_fd_, &v, sizeof v);
        (void)unused;
        continue;
      }
      if (i != idx_out && i != idx_err && i != idx_res) continue;
      int* fd = i == idx_out ? &out_fd_ : i == idx_err ? &err_fd_ : &result_fd_;
      ssize_t r = ::read(*fd, buf.data(), buf.size());
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        CloseFd(*fd);
        continue;
      }
      absl::string_view chunk(buf.data(), static_cast<size_t>(r));
      if (i == idx_res) {
        if (outcome.result.size() + chunk.size() <= config::kMaxResultBytes) outcome.result.append(chunk.data(), chunk.size());
      } else {
        on_output(i == idx_out ? v1::Output::STREAM_STDOUT : v1::Output::STREAM_STDERR, chunk);
      }
    }
  }
  if (!exited) {
    ::waitpid(pid_, &wstatus, 0);
  }
  // The leader is gone; take down anything it left in its group.
  ::kill(-pid_, SIGKILL);
  pid_ = -1;
  auto& e = outcome.exit;
  if (WIFEXITED(wstatus)) {
    e.set_exit_code(WEXITSTATUS(wstatus));
  } else if (WIFSIGNALED(wstatus)) {
    e.set_exit_code(-1);
    e.set_signal(WTERMSIG(wstatus));
  }
  e.set_timed_out(timed_out);
  e.set_cancelled(cancelled);
  e.set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count()));
  return outcome;
}

}  // namespace ktstr::agent
