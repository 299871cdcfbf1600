// The warm pool: per (kernel, shape) key one template VM booted to agent-ready and
// snapshotted, and a target number of clones restored, clock-set (agent Hello with the host
// time) and answering. A lease takes a ready clone, else restores a fresh one, else (no
// snapshot) cold boots; a VM serves one job and is destroyed by its user. Each key has a
// refill thread; boot failures are retried with exponential backoff and reported in the
// status (boot_failures, last_error), never dropped. If the snapshot cannot be made the key
// falls back to cold boots and says why (mode COLD_BOOT, mode_reason). A key nobody has
// used for `idle_ttl` gives back its ready clones and its template (their RAM lives in
// /dev/shm) and rebuilds them on the next demand, so a gauntlet's dozen shapes do not keep
// a dozen idle VMs on a shared host.
#ifndef KTSTR_DAEMON_WARM_POOL_H_
#define KTSTR_DAEMON_WARM_POOL_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "guest_agent/agent_client.h"
#include "proto/ktstr/v1/pool.pb.h"
#include "vmm/vm.h"

namespace ktstr::daemon {

namespace config {
// Backoff after a failed boot or restore: doubles from 1 s up to a minute, so a broken
// kernel does not spin the host while a transient failure is retried quickly.
inline constexpr absl::Duration kMinBootBackoff = absl::Seconds(1);
inline constexpr absl::Duration kMaxBootBackoff = absl::Seconds(60);
// Connecting to a VM's agent and saying Hello after boot/restore.
inline constexpr absl::Duration kAgentConnectTimeout = absl::Seconds(60);
// A pool unused this long is emptied: long enough for the gaps between a developer's runs,
// short enough that a CI host gets its memory back soon after a job.
inline constexpr absl::Duration kDefaultPoolIdleTtl = absl::Minutes(10);
}  // namespace config

struct WarmPoolOptions {
  std::string initramfs_path;   // base archive: the agent as /init, busybox
  std::string work_dir;         // short path for VM sockets (sun_path limit)
  std::string qemu_pids_dir;    // every QEMU pid is recorded here while it lives
  uint32_t default_target = 1;  // ready clones per key once jobs of that key were seen
  bool snapshots = true;        // false: every VM boots cold (and says so)
  absl::Duration boot_timeout = absl::Seconds(240);  // TCG on a loaded host
  // Empty a pool (ready clones and template) this long after its last demand, lease or
  // release; absl::InfiniteDuration() = never.
  absl::Duration idle_ttl = config::kDefaultPoolIdleTtl;
  // Connects to a fresh VM's agent and sets its clock (Hello with the host time). Empty =
  // the real AgentClient; pool tests with vmm's FakeLauncher (no guest) replace it.
  std::function<absl::StatusOr<std::unique_ptr<agent::AgentClient>>(vmm::Vm&)> connect_agent;
};

struct PoolVmKey {
  std::string kernel_key;
  std::string kernel_path;
  vmm::Topology topology;
  int memory_mb = 0;
  // Appended to the guest kernel command line (SchedulerSpec.kernel_args): part of what
  // boots, so of the snapshot, so VMs with other args are not interchangeable.
  std::vector<std::string> kernel_args;
  std::string Name() const;
};

// A VM handed to one job. Destroying it kills QEMU and forgets its pid record.
struct LeasedVm {
  std::string id;
  std::unique_ptr<vmm::Vm> vm;
  std::unique_ptr<agent::AgentClient> agent;
  bool warm = false;        // restored from a snapshot
  bool from_pool = false;   // was ready before the lease (not restored for it)
  bool detached = false;    // booted outside every pool (LeaseMode::kReadyElseCold)
  double ready_s = 0;       // time the lease waited for the VM
  std::string pids_dir;
  ~LeasedVm();
};

// kAny: a ready clone, else a fresh clone, else a cold boot (the key's pool is created and
// keeps a template). kReadyElseCold (interactive shells): the same when the key's pool
// exists and is not dormant, else one cold boot that creates (or wakes) no pool, so a
// one-off shell leaves no template or clones behind.
enum class LeaseMode { kAny, kForceCold, kForceFreshClone, kReadyElseCold };

class WarmPool {
 public:
  // `launcher` boots VMs and saves templates (vmm::QemuLauncher in ktstrd).
  WarmPool(WarmPoolOptions options, std::unique_ptr<vmm::VmLauncher> launcher)
      : options_(std::move(options)), launcher_(std::move(launcher)) {}
  ~WarmPool();  // Shutdown()

  // Jobs of this key are queued: start its pool (template + target clones).
  void NoteDemand(const PoolVmKey& key);
  // Blocks until a VM is ready (or fails with the boot error and console excerpt). A cold
  // boot for this lease ends early with CANCELLED when `cancel` fires (or the pool shuts
  // down); null = only shutdown.
  absl::StatusOr<std::unique_ptr<LeasedVm>> Lease(
      const PoolVmKey& key, LeaseMode mode,
      std::shared_ptr<const vmm::BootCanceller> cancel = nullptr);
  // The leased VM of `key` was destroyed (its job ended). For a `detached` VM, pass true.
  void Released(const PoolVmKey& key, bool detached = false);
  std::vector<ktstr::v1::PoolStatus> Status();
  absl::StatusOr<ktstr::v1::PoolStatus> SetTarget(const PoolVmKey& key, uint32_t target);
  uint32_t vms_running();
  // Stops refilling, cancels boots in progress and kills every pooled VM and template.
  void Shutdown();

 private:
  struct Pool {
    PoolVmKey key;
    uint32_t target = 0;
    std::unique_ptr<vmm::VmTemplate> snapshot;
    bool snapshot_failed = false;
    std::string mode_reason;
    std::deque<std::unique_ptr<LeasedVm>> ready;
    uint32_t booting = 0;
    uint32_t busy = 0;
    uint32_t boot_failures = 0;
    std::string last_error;
    double template_boot_s = 0;
    double last_restore_s = 0;
    absl::Time last_used;  // demand, lease or release
    bool dormant = false;  // emptied for idleness; the next demand, lease or target wakes it
    std::thread refill;
  };

  Pool* GetOrCreateLocked(const PoolVmKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefillLoop(Pool* pool);
  // Idle past options_.idle_ttl with nothing leased or booting: moves its VMs and template
  // out (the caller destroys them outside the lock) and sets the target to 0.
  bool TakeIdleLocked(Pool* pool, std::deque<std::unique_ptr<LeasedVm>>* vms,
                      std::unique_ptr<vmm::VmTemplate>* snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status BuildTemplate(Pool* pool);
  // Boots cold or restores a clone, connects the agent and sets the guest clock. A cold
  // boot ends early when `cancel` (null: the pool's shutdown canceller) fires.
  absl::StatusOr<std::unique_ptr<LeasedVm>> StartVm(
      Pool* pool, bool clone, std::shared_ptr<const vmm::BootCanceller> cancel = nullptr);
  // One cold-booted VM outside every pool (LeaseMode::kReadyElseCold).
  absl::StatusOr<std::unique_ptr<LeasedVm>> BootDetached(
      const PoolVmKey& key, std::shared_ptr<const vmm::BootCanceller> cancel);
  // The lease's canceller chained to the pool's shutdown one.
  std::shared_ptr<const vmm::BootCanceller> LeaseCanceller(
      std::shared_ptr<const vmm::BootCanceller> cancel) const;
  vmm::VmSpec SpecFor(const PoolVmKey& key) const;
  ktstr::v1::PoolStatus StatusLocked(const Pool& p) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WarmPoolOptions options_;
  const std::unique_ptr<vmm::VmLauncher> launcher_;
  // Fired by Shutdown: every boot of this pool (refills, leases) ends at once.
  const std::shared_ptr<vmm::BootCanceller> shutdown_canceller_ =
      std::make_shared<vmm::BootCanceller>();
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Pool>> pools_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_vm_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t detached_running_ ABSL_GUARDED_BY(mu_) = 0;  // counted in vms_running()
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_WARM_POOL_H_
