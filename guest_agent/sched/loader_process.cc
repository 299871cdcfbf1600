#include "guest_agent/sched/loader_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ktstr::agent {
namespace {
// How often WaitExit polls: a loader's exit is noticed within this.
constexpr absl::Duration kWaitPoll = absl::Milliseconds(10);
}  // namespace

absl::StatusOr<std::unique_ptr<LoaderProcess>> LoaderProcess::Spawn(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& log_path) {
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", log_path));
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    int err = errno;
    close(log_fd);
    return absl::ErrnoToStatus(err, "open /dev/null");
  }
  // argv is built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(log_fd);
    close(null_fd);
    return absl::ErrnoToStatus(err, "fork");
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Signal dispositions and the mask are inherited; the loader needs default ones.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execv(binary.c_str(), argv.data());
    const char* err = strerror(errno);
    (void)!write(STDERR_FILENO, "exec ", 5);
    (void)!write(STDERR_FILENO, binary.c_str(), binary.size());
    (void)!write(STDERR_FILENO, ": ", 2);
    (void)!write(STDERR_FILENO, err, strlen(err));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  close(log_fd);
  close(null_fd);
  setpgid(pid, pid);  // also from the parent, so the group exists before we may signal it
  return std::unique_ptr<LoaderProcess>(new LoaderProcess(pid));
}

LoaderProcess::~LoaderProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    WaitExit(absl::InfiniteDuration());
  }
}

bool LoaderProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r < 0 && errno == EINTR) return true;
  reaped_ = true;
  if (r == pid_) {
    if (WIFEXITED(status)) {
      exit_code_ = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      term_signal_ = WTERMSIG(status);
    }
  }
  return false;
}

bool LoaderProcess::WaitExit(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kWaitPoll);
  }
  return true;
}

void LoaderProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

}  // namespace ktstr::agent
