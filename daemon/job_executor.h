// How a job gets a VM and runs in it, behind one interface: the dispatcher knows nothing of
// QEMU. The real implementation (VMs from the warm pool, the guest agent) plugs in here;
// testing/fake_executor.h stands in where VMs cannot run.
#ifndef KTSTR_DAEMON_JOB_EXECUTOR_H_
#define KTSTR_DAEMON_JOB_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/shell_vm.h"
#include "daemon/verdict.h"
#include "proto/ktstr/agent/v1/agent.pb.h"
#include "proto/ktstr/v1/pool.pb.h"
#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::daemon {

// Everything an executor needs; paths are verified artifacts.
struct JobRequest {
  std::string run_id;
  uint32_t index = 0;
  ktstr::v1::JobSpec spec;
  std::string kernel_key;
  std::string kernel_image_path;
  std::string kernel_config_path;  // shipped as /boot/config-<release> for sched_ext jobs
  std::string kernel_release;
  std::shared_ptr<const void> kernel_pin;  // ResolvedKernel::pin: held for the job's lifetime
  std::string test_binary_path;          // host path of the test binary
  std::vector<GuestFileSource> files;    // support files (shared libraries, includes)
  std::string scheduler_binary_path;     // host path of the sched_ext loader; "" = EEVDF
  std::vector<GuestFileSource> scheduler_files;  // the loader's libraries
  std::string log_dir;                   // where to keep console.log etc.
  uint32_t timeout_s = 0;                // the whole job's limit (the dispatcher enforces it)
};

// Progress callbacks, called from the executor's thread.
struct JobProgress {
  std::function<void(const std::string& vm_id, bool warm, double ready_s)> vm_assigned;
  std::function<void()> started;  // the test is running in the guest
  std::function<void(ktstr::v1::JobOutput::Stream, const std::string& line)> output;
};

// What the executor observed; the dispatcher merges it into a verdict.
struct ExecutionOutcome {
  std::optional<ktstr::agent::v1::TestResult> agent_result;
  std::optional<CrashObservation> crash;
  std::string infra_error;
  std::string console_tail;
  std::string console_log_path;
  std::string scheduler_log_path;
};

// Set once by the dispatcher (cancel, timeout, shutdown); the executor polls it or
// registers a hook (e.g. "kill the VM") that runs when it is set. Thread-safe.
class AbortSignal {
 public:
  void Abort(AbortReason reason);
  AbortReason reason() const;
  bool aborted() const { return reason() != AbortReason::kNone; }
  // Waits up to `timeout`; true if aborted.
  bool WaitFor(absl::Duration timeout) const;
  // Runs `hook` now if already aborted, else when aborted. One hook; a new one replaces it.
  void OnAbort(std::function<void()> hook);

 private:
  mutable absl::Mutex mu_;
  AbortReason reason_ ABSL_GUARDED_BY(mu_) = AbortReason::kNone;
  std::function<void()> hook_ ABSL_GUARDED_BY(mu_);
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs one job to its end; returns promptly (seconds) once `abort` is set. Never throws;
  // every failure is described in the outcome.
  virtual ExecutionOutcome Execute(const JobRequest& req, const JobProgress& progress,
                                   AbortSignal& abort) = 0;
  // A job of this kernel, shape and kernel args is queued: lets a warm pool raise its target.
  virtual void NoteDemand(const std::string& kernel_key, const ktstr::v1::JobSpec& job,
                          const std::string& kernel_image_path) {}
  virtual std::vector<ktstr::v1::PoolStatus> PoolStatus() { return {}; }
  virtual absl::StatusOr<ktstr::v1::PoolStatus> SetPoolTarget(const ktstr::v1::PoolKey& key,
                                                              uint32_t target) {
    return absl::UnimplementedError("this executor has no warm pool");
  }
  // A fresh VM for an interactive shell (the caller holds its admission budget). Blocks
  // until the VM is ready or failed to boot; an `abort` ends a cold boot early (CANCELLED).
  // Uses abort's hook while it runs.
  virtual absl::StatusOr<std::unique_ptr<ShellVm>> StartShellVm(const ShellVmRequest& req,
                                                                AbortSignal& abort) {
    return absl::UnimplementedError("this executor runs no shells");
  }
  virtual uint32_t vms_running() { return 0; }
  virtual std::string accelerator() { return "none"; }
  // Kills every VM (daemon shutdown).
  virtual void Shutdown() {}
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_JOB_EXECUTOR_H_
