// Starts and watches the sched_ext scheduler under test inside the guest (called by the agent's
// RunTest). One SchedulerSupervisor per scheduler run:
//
//   Start(spec)  applies the sysctls, starts the loader with its output in spec.log_path and
//                waits up to spec.attach_timeout for /sys/kernel/sched_ext/state = enabled with
//                root/ops naming spec.expected_ops_name. The outcome is in report().state:
//                  RAN (so far: attached), DIED (the loader exited before attaching, not a
//                  verifier reject), NOT_ATTACHED (timeout or verifier reject; exit_detail has
//                  the verifier's message), SCHED_EXT_ABSENT (no /sys/kernel/sched_ext; nothing
//                  is started). Start returns an error only for a bad spec or a host failure
//                  (a sysctl cannot be written, the log cannot be created, fork fails).
//   Alive()      while attached: false once the scheduler is gone. The report then says EJECTED
//                (the kernel disabled it: exit_kind/exit_kind_text/exit_detail from the kernel's
//                "disabled (REASON)" line and message line in /dev/kmsg — see sched_ext_log.h)
//                or DIED (the loader exited and the kernel only saw it unregister).
//   Stop()       SIGINT to the loader, SIGKILL after a grace period, then confirms sched_ext is
//                disabled. A scheduler that ran to the end is RAN with exit kind UNREGISTERED.
//                Idempotent; the destructor kills a loader that still runs.
//
// The loader's exit status never decides a verdict (it is 0 after kernel-side exits); the
// kernel's record does. report().log is the tail of the loader's output (the kernel's debug dump
// is printed there). Attach timeouts: ~3 s under KVM; under TCG verifier time alone is 2–24 s.
// Thread-safe: every method takes an internal lock.
#ifndef KTSTR_GUEST_AGENT_SCHED_SCHEDULER_SUPERVISOR_H_
#define KTSTR_GUEST_AGENT_SCHED_SCHEDULER_SUPERVISOR_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "guest_agent/sched/kernel_log.h"
#include "guest_agent/sched/loader_process.h"
#include "guest_agent/sched/sched_ext_log.h"
#include "guest_agent/sched/sched_ext_sysfs.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

namespace config {
// Stop(): SIGINT, then SIGKILL after this. A loader detaches in well under a second under KVM;
// TCG on a shared host is an order of magnitude slower.
inline constexpr absl::Duration kStopGrace = absl::Seconds(10);
// After the loader is gone, how long sched_ext may take to show `disabled`.
inline constexpr absl::Duration kDisableConfirm = absl::Seconds(10);
// After the kernel disabled the scheduler, how long to wait for the kernel's message line and
// for the loader to print its exit record and debug dump and exit.
inline constexpr absl::Duration kEjectDrain = absl::Seconds(5);
// Sysfs polling period while waiting for the attach.
inline constexpr absl::Duration kAttachPoll = absl::Milliseconds(20);
// Tail of the loader's output kept in SchedulerReport.log: the debug dump alone is up to 32 KiB.
inline constexpr size_t kMaxLogBytes = 64 * 1024;
}  // namespace config

struct SchedulerLaunchSpec {
  std::string name;
  std::string binary_path;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> sysctls;  // "kernel.foo" -> "1"
  absl::Duration attach_timeout;
  std::string expected_ops_name;  // "" = accept any root/ops name
  std::string log_path;
};

// Where the supervisor looks; the defaults are the real guest. Tests point them at fakes.
struct SupervisorEnv {
  std::string sysfs_root = "/sys/kernel/sched_ext";
  std::string proc_sys_root = "/proc/sys";
  // nullptr: open /dev/kmsg (from its current end) in Start; if that fails, fall back on the
  // loader's "EXIT: REASON (MESSAGE)" line.
  std::unique_ptr<KernelLogSource> kernel_log;
  absl::Duration stop_grace = config::kStopGrace;
  absl::Duration disable_confirm = config::kDisableConfirm;
  absl::Duration eject_drain = config::kEjectDrain;
};

class SchedulerSupervisor {
 public:
  static absl::StatusOr<std::unique_ptr<SchedulerSupervisor>> Start(
      const SchedulerLaunchSpec& spec);
  static absl::StatusOr<std::unique_ptr<SchedulerSupervisor>> Start(
      const SchedulerLaunchSpec& spec, SupervisorEnv env);

  ~SchedulerSupervisor();
  SchedulerSupervisor(const SchedulerSupervisor&) = delete;
  SchedulerSupervisor& operator=(const SchedulerSupervisor&) = delete;

  // The loader's pid (for SCHED_PID), -1 if none was started.
  pid_t pid() const;
  // True while the scheduler is attached and its loader runs.
  bool Alive();
  // Stops the loader and returns the final report.
  ktstr::agent::v1::SchedulerReport Stop();
  ktstr::agent::v1::SchedulerReport report() const;

 private:
  enum class Phase { kAttaching, kAttached, kFinished };

  SchedulerSupervisor(SchedulerLaunchSpec spec, SupervisorEnv env);

  absl::Status ApplySysctls() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WaitForAttach() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The scheduler went away without Stop(): EJECTED or DIED.
  void FinishUnexpected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishNotAttached(std::string detail) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainKernelLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Kills the loader if it still runs: SIGINT, then SIGKILL after env_.stop_grace.
  void StopLoader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Exit kind/reason/message from the kernel log, else from the loader's EXIT line.
  void FillExitFromRecords() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillProcessAndLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ReadLogTail() const;

  // Constant after construction.
  const SchedulerLaunchSpec spec_;
  const SchedExtSysfs sysfs_;

  mutable absl::Mutex mu_;
  SupervisorEnv env_ ABSL_GUARDED_BY(mu_);
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kAttaching;
  std::unique_ptr<LoaderProcess> loader_ ABSL_GUARDED_BY(mu_);
  SchedExtLogTracker tracker_ ABSL_GUARDED_BY(mu_);
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  ktstr::agent::v1::SchedulerReport report_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_SCHEDULER_SUPERVISOR_H_
