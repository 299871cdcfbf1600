// Starting child processes that can never outlive their owner.
//
// Every child gets its own process group (so QEMU and anything it spawns, e.g. the `sh -c
// cat > file` of an exec: migration, die together with kill(-pgid)) and PR_SET_PDEATHSIG
// SIGKILL, so a crash or Ctrl-C of the owning process kills it too.
//
// Gotcha: the kernel delivers PDEATHSIG when the *thread* that forked exits, not the process.
// A VM booted from a short-lived worker thread would die with that thread. Spawn therefore
// forks from one process-wide spawner thread that lives as long as the process.
#ifndef KTSTR_VMM_PROCESS_H_
#define KTSTR_VMM_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ktstr::vmm {

struct SpawnFds {
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: /dev/null
};

// Forks (from the spawner thread) and execs argv[0] with argv. The child leads a new process
// group (pgid == pid), has SIGKILL as parent-death signal, default signal dispositions and
// mask, and no fds besides 0-2. Returns the pid; the caller must reap it.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv, SpawnFds fds);

// SIGKILL to the whole process group of `pid` (which must lead its group).
void KillProcessGroup(pid_t pid);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_PROCESS_H_
