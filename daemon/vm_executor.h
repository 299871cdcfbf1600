// The real JobExecutor: a VM from the warm pool (vmm/), the guest agent (guest_agent/) to put
// the test binary and its libraries and run the test, and the console's crash detector.
#ifndef KTSTR_DAEMON_VM_EXECUTOR_H_
#define KTSTR_DAEMON_VM_EXECUTOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/job_executor.h"
#include "daemon/warm_pool.h"
#include "vmm/qemu_vm.h"

namespace ktstr::daemon {

struct VmExecutorOptions {
  std::string agent_path;       // static ktstr-agent (becomes /init)
  std::string busybox_path = "/bin/busybox";
  std::string state_dir;        // initramfs is built here
  WarmPoolOptions pool;         // initramfs_path is filled by Create
};

class VmExecutor : public JobExecutor {
 public:
  // Builds the initramfs (agent + busybox); NOT_FOUND when the agent binary is missing.
  static absl::StatusOr<std::unique_ptr<VmExecutor>> Create(VmExecutorOptions options);

  // Job labels understood here (benchmarks): "ktstr.vm" = "cold" boots a VM cold, "clone"
  // restores a fresh clone; otherwise a ready pool clone is taken when there is one.
  ExecutionOutcome Execute(const JobRequest& req, const JobProgress& progress,
                           AbortSignal& abort) override;
  void NoteDemand(const std::string& kernel_key, const ktstr::v1::JobSpec& job,
                  const std::string& kernel_image_path) override;
  // A ready pool clone when jobs warmed this (kernel, shape), else a cold boot that leaves
  // no pool behind (LeaseMode::kReadyElseCold).
  absl::StatusOr<std::unique_ptr<ShellVm>> StartShellVm(const ShellVmRequest& req,
                                                        AbortSignal& abort) override;
  std::vector<ktstr::v1::PoolStatus> PoolStatus() override { return pool_.Status(); }
  absl::StatusOr<ktstr::v1::PoolStatus> SetPoolTarget(const ktstr::v1::PoolKey& key,
                                                      uint32_t target) override;
  uint32_t vms_running() override { return pool_.vms_running(); }
  std::string accelerator() override;
  void Shutdown() override { pool_.Shutdown(); }

 private:
  explicit VmExecutor(VmExecutorOptions options)
      : options_(std::move(options)),
        pool_(options_.pool, std::make_unique<vmm::QemuLauncher>()) {}

  const VmExecutorOptions options_;
  WarmPool pool_;
  absl::Mutex mu_;
  std::map<std::string, std::string> kernel_paths_ ABSL_GUARDED_BY(mu_);  // key -> image
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_VM_EXECUTOR_H_
