// Turns guest console text into typed crash events (never grepped strings downstream).
#ifndef KTSTR_VMM_CRASH_DETECTOR_H_
#define KTSTR_VMM_CRASH_DETECTOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace ktstr::vmm {

enum class CrashKind {
  kKernelPanic,             // "Kernel panic - not syncing: <reason>"
  kBug,                     // "BUG: <what>" (other than soft lockup)
  kWarning,                 // "WARNING: CPU: n PID: p at <where>"
  kGeneralProtectionFault,  // "general protection fault"
  kOops,                    // "Oops: <what>"
  kRcuStall,                // "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks"
  kSoftLockup,              // "watchdog: BUG: soft lockup - CPU#n stuck for 22s!"
  kHardLockup,              // "Watchdog detected hard LOCKUP on cpu n"
  kHungTask,                // "INFO: task <comm>:<pid> blocked for more than N seconds."
  kSchedExtExit,            // sched_ext: BPF scheduler "<name>" disabled (<reason>)
};
absl::string_view CrashKindName(CrashKind kind);

// Kernel-side reasons a sched_ext scheduler stopped (sched_ext-facts.md).
enum class SchedExtExitKind {
  kNone,          // not a sched_ext event
  kUnregistered,  // "unregistered from user space" (loader exited; normal)
  kStall,         // "runnable task stall" (watchdog: starvation or livelock)
  kBpfError,      // "scx_bpf_error"
  kRuntimeError,  // "runtime error" (e.g. the RCU stall detector fired first)
  kSysrq,         // "disabled by sysrq-S"
  kOther,         // any other reason text (kept verbatim in `reason`)
};

struct CrashEvent {
  CrashKind kind;
  std::string line;    // the triggering line without the printk timestamp
  std::string reason;  // panic reason, BUG/Oops text, sched_ext reason text
  // sched_ext only: scheduler name, exit kind, and the detail line that follows
  // ("sched_ext: NAME: <msg>"), if it arrived.
  std::string scheduler;
  SchedExtExitKind sched_ext_exit = SchedExtExitKind::kNone;
  std::string detail;
  uint64_t offset = 0;  // console byte offset of the line start
};

// Fatal kinds end a boot (or a test) as a crash: panic, BUG, Oops, GPF, lockups, RCU stalls,
// hung tasks. Warnings and sched_ext exits are reported but are not by themselves fatal.
bool IsFatal(CrashKind kind);

// Classifies one console line (timestamp allowed). nullopt if it is not an event line.
std::optional<CrashEvent> ClassifyLine(absl::string_view line);

// Incremental: feed console bytes as they come; complete lines are classified.
// Not thread-safe.
class CrashDetector {
 public:
  // Feeds `data` (starting at console offset `offset`). Returns the events completed by it.
  std::vector<CrashEvent> Feed(absl::string_view data);
  // Classifies a trailing partial line (call at end of stream).
  std::vector<CrashEvent> Finish();
  const std::vector<CrashEvent>& events() const { return events_; }

 private:
  void HandleLine(absl::string_view line, uint64_t offset, std::vector<CrashEvent>* out);

  std::string partial_;
  uint64_t partial_offset_ = 0;
  uint64_t consumed_ = 0;
  std::vector<CrashEvent> events_;
  // Index in events_ of the last sched_ext exit still waiting for its detail line.
  std::optional<size_t> pending_sched_ext_;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_CRASH_DETECTOR_H_
