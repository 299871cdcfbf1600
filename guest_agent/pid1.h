// What the agent does only when it is PID 1 in the guest: mount the pseudo filesystems,
// write to the console, set the clock, and power the machine off.
#ifndef KTSTR_GUEST_AGENT_PID1_H_
#define KTSTR_GUEST_AGENT_PID1_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ktstr::agent {

// Mounts proc, sysfs, devtmpfs, cgroup2, debugfs, tracefs, bpffs, and tmpfs on /tmp and
// /dev/shm. Returns the first failure of a mount that tests cannot do without (proc, sys,
// dev, cgroup2); the optional ones only log.
absl::Status MountPseudoFilesystems();

// Writes one line to /dev/console (opened per call: the console is init's only witness).
void ConsoleLine(absl::string_view line);

// Reads a `key=value` parameter from /proc/cmdline; "" when absent.
std::string KernelCmdlineParam(absl::string_view key);

// sync() + reboot(RB_POWER_OFF or RB_AUTOBOOT). Does not return on success.
void PowerOff(bool reboot);

absl::Status SetRealtimeClock(int64_t unix_ns);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_PID1_H_
