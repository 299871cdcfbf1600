// What a VM's console crash detector saw, as the daemon's CrashObservation: for job verdicts
// (the worst crash of a finished job) and for shells (why the guest went away).
#ifndef KTSTR_DAEMON_VM_CRASH_H_
#define KTSTR_DAEMON_VM_CRASH_H_

#include <optional>

#include "absl/time/time.h"
#include "daemon/verdict.h"
#include "vmm/vm.h"

namespace ktstr::daemon {

namespace config {
// After the guest agent's connection breaks, time for the kernel to finish printing a panic.
inline constexpr absl::Duration kCrashSettle = absl::Seconds(3);
}  // namespace config

// The crash kind a console event maps to; UNSPECIFIED for sched_ext exits (the guest agent
// reports those, with more detail).
ktstr::v1::CrashKind ToProtoCrash(vmm::CrashKind kind);

// The first fatal crash, else the first WARNING, else nullopt.
std::optional<CrashObservation> WorstCrash(const vmm::Vm& vm);

// The first fatal crash, waiting up to `settle` for the console to show one: when the guest
// agent's connection breaks, the kernel may still be printing its panic. nullopt when none
// appeared (the guest went away for another reason).
std::optional<CrashObservation> AwaitFatalCrash(const vmm::Vm& vm, absl::Duration settle);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_VM_CRASH_H_
