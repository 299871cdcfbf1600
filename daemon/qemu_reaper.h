// Records the pid of every QEMU the daemon starts under <state>/qemu-pids, so that a
// daemon restarted after kill -9 can kill survivors (belt and braces: the vmm layer also
// sets PR_SET_PDEATHSIG on QEMU).
#ifndef KTSTR_DAEMON_QEMU_REAPER_H_
#define KTSTR_DAEMON_QEMU_REAPER_H_

#include <sys/types.h>

#include <string>

namespace ktstr::daemon {

void RecordQemuPid(const std::string& dir, pid_t pid);
void ForgetQemuPid(const std::string& dir, pid_t pid);
// SIGKILLs every recorded pid that is still a QEMU process (argv[0] from /proc/<pid>/cmdline
// is qemu-system-*, so a reused pid of another program is never killed) and clears the
// records. Returns how many were killed.
int KillRecordedQemus(const std::string& dir);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_QEMU_REAPER_H_
