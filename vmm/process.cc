#include "vmm/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ktstr::vmm {
namespace {

// Runs closures on one thread that never exits (see the PDEATHSIG gotcha in process.h).
class SpawnerThread {
 public:
  static SpawnerThread& Get() {
    static SpawnerThread* const kThread = new SpawnerThread();
    return *kThread;
  }

  void Run(const std::function<void()>& fn) {
    absl::MutexLock call(&call_mu_);  // one request at a time
    {
      absl::MutexLock lock(&mu_);
      task_ = &fn;
      done_ = false;
    }
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  SpawnerThread() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    while (true) {
      const std::function<void()>* task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](const std::function<void()>** t) { return *t != nullptr; }, &task_));
        task = task_;
      }
      (*task)();
      absl::MutexLock lock(&mu_);
      task_ = nullptr;
      done_ = true;
    }
  }

  absl::Mutex call_mu_;
  absl::Mutex mu_;
  const std::function<void()>* task_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void ExecChild(pid_t parent, char* const* argv, int in, int out, int err) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  syscall(SYS_close_range, 3, ~0U, 0);
  execv(argv[0], argv);
  _exit(127);
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv, SpawnFds fds) {
  if (argv.empty()) return absl::InvalidArgumentError("SpawnProcess: empty argv");
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(argv[0], ": ", strerror(errno)));
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return absl::InternalError(absl::StrCat("/dev/null: ", strerror(errno)));
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const int in = fds.stdin_fd >= 0 ? fds.stdin_fd : devnull;
  const int out = fds.stdout_fd >= 0 ? fds.stdout_fd : devnull;
  const int err = fds.stderr_fd >= 0 ? fds.stderr_fd : devnull;
  const pid_t parent = getpid();
  pid_t pid = -1;
  int fork_errno = 0;
  SpawnerThread::Get().Run([&] {
    pid = fork();
    if (pid == 0) ExecChild(parent, cargv.data(), in, out, err);
    fork_errno = errno;
  });
  close(devnull);
  if (pid < 0) return absl::ResourceExhaustedError(absl::StrCat("fork: ", strerror(fork_errno)));
  // Also set the group from the parent side, so a kill right after spawn cannot miss it.
  setpgid(pid, pid);
  return pid;
}

void KillProcessGroup(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);  // in case the child had not yet called setpgid
}

}  // namespace ktstr::vmm
