#include "guest_agent/testlib/payloads.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"

namespace ktstr {
namespace config {
// How often Wait looks at the interrupt flag.
constexpr auto kPayloadPoll = std::chrono::milliseconds(20);
}  // namespace config

PayloadSet::~PayloadSet() { KillAll(); }

std::vector<PayloadSet::Proc>::iterator PayloadSet::Find(const std::string& name,
                                                         const std::string& cgroup) {
  for (auto it = procs_.begin(); it != procs_.end(); ++it) {
    if (it->name == name && it->cgroup == cgroup) return it;
  }
  return procs_.end();
}

absl::Status PayloadSet::Start(const std::string& name, const std::string& cgroup,
                               const std::string& binary, const std::vector<std::string>& args,
                               int scope, const std::function<absl::Status(pid_t)>& place) {
  if (Find(name, cgroup) != procs_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("payload '", name, "' already runs in '", cgroup, "'"));
  }
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return absl::ResourceExhaustedError("pipe2 failed");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    close(gate[1]);
    char go;
    if (read(gate[0], &go, 1) != 1) _exit(127);  // not released: the parent gave up
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(gate[0]);
  if (pid < 0) {
    close(gate[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork payload: ", strerror(errno)));
  }
  procs_.push_back({name, cgroup, pid, scope});
  if (absl::Status s = place(pid); !s.ok()) {
    close(gate[1]);
    Kill(name, cgroup).IgnoreError();
    return s;
  }
  const char go = 'g';
  const bool released = write(gate[1], &go, 1) == 1;
  close(gate[1]);
  return released ? absl::OkStatus() : absl::InternalError("could not release the payload");
}

absl::StatusOr<int> PayloadSet::Wait(const std::string& name, const std::string& cgroup,
                                     const std::function<bool()>& interrupted) {
  auto it = Find(name, cgroup);
  if (it == procs_.end()) {
    return absl::NotFoundError(absl::StrCat("no running payload '", name, "' in '", cgroup, "'"));
  }
  int status = 0;
  while (waitpid(it->pid, &status, WNOHANG) == 0) {
    if (interrupted()) return absl::CancelledError("interrupted");
    std::this_thread::sleep_for(config::kPayloadPoll);
  }
  kill(-it->pid, SIGKILL);  // whatever it left in its process group
  procs_.erase(it);
  return status;
}

absl::Status PayloadSet::Kill(const std::string& name, const std::string& cgroup) {
  auto it = Find(name, cgroup);
  if (it == procs_.end()) {
    return absl::NotFoundError(absl::StrCat("no running payload '", name, "' in '", cgroup, "'"));
  }
  kill(-it->pid, SIGKILL);
  kill(it->pid, SIGKILL);
  while (waitpid(it->pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  procs_.erase(it);
  return absl::OkStatus();
}

void PayloadSet::KillScope(int scope) {
  for (size_t i = procs_.size(); i-- > 0;) {
    if (procs_[i].scope == scope) Kill(procs_[i].name, procs_[i].cgroup).IgnoreError();
  }
}

void PayloadSet::KillAll() {
  while (!procs_.empty()) Kill(procs_.back().name, procs_.back().cgroup).IgnoreError();
}

}  // namespace ktstr
