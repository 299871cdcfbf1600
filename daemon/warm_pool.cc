#include "daemon/warm_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "daemon/qemu_reaper.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {
namespace {

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

// Connects to the VM's agent and says Hello with the host's time: a clone's wall clock lags
// by the snapshot's age.
absl::StatusOr<std::unique_ptr<agent::AgentClient>> ConnectAgent(vmm::Vm& vm) {
  absl::StatusOr<std::unique_ptr<agent::AgentClient>> client =
      agent::AgentClient::Connect(vm.channel_socket_path(), In(config::kAgentConnectTimeout));
  if (!client.ok()) {
    return absl::UnavailableError(absl::StrCat("the guest agent did not answer: ",
                                               client.status().message()));
  }
  agent::v1::Hello hello;
  hello.set_host_time_unix_ns(absl::ToUnixNanos(absl::Now()));
  if (auto r = (*client)->Hello(hello, In(config::kAgentConnectTimeout)); !r.ok()) {
    return absl::UnavailableError(absl::StrCat("agent Hello failed: ", r.status().message()));
  }
  return client;
}

}  // namespace

std::string PoolVmKey::Name() const {
  std::string name = absl::StrCat(kernel_key, "/", topology.ToString(), "/", memory_mb, "M");
  if (!kernel_args.empty()) absl::StrAppend(&name, "/", absl::StrJoin(kernel_args, " "));
  return name;
}

LeasedVm::~LeasedVm() {
  agent.reset();
  if (vm) {
    pid_t pid = vm->pid();
    vm.reset();  // kills and reaps QEMU, removes its files
    ForgetQemuPid(pids_dir, pid);
  }
}

WarmPool::~WarmPool() { Shutdown(); }

vmm::VmSpec WarmPool::SpecFor(const PoolVmKey& key) const {
  vmm::VmSpec spec;
  spec.kernel_path = key.kernel_path;
  spec.initramfs_path = options_.initramfs_path;
  spec.topology = key.topology;
  spec.memory_mb = key.memory_mb;
  spec.extra_kernel_args = key.kernel_args;
  spec.boot_timeout = options_.boot_timeout;
  spec.work_dir = options_.work_dir;
  spec.boot_canceller = shutdown_canceller_;
  return spec;
}

std::shared_ptr<const vmm::BootCanceller> WarmPool::LeaseCanceller(
    std::shared_ptr<const vmm::BootCanceller> cancel) const {
  if (cancel == nullptr) return shutdown_canceller_;
  return std::make_shared<vmm::BootCanceller>(
      std::vector<std::shared_ptr<const vmm::BootCanceller>>{shutdown_canceller_,
                                                              std::move(cancel)});
}

WarmPool::Pool* WarmPool::GetOrCreateLocked(const PoolVmKey& key) {
  auto& slot = pools_[key.Name()];
  if (!slot) {
    slot = std::make_unique<Pool>();
    slot->key = key;
    if (!options_.snapshots) {
      slot->snapshot_failed = true;
      slot->mode_reason = "snapshots disabled (ktstrd --pool=cold)";
    }
    slot->last_used = absl::Now();
    Pool* p = slot.get();
    p->refill = std::thread([this, p] { RefillLoop(p); });
  }
  return slot.get();
}

void WarmPool::NoteDemand(const PoolVmKey& key) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  Pool* p = GetOrCreateLocked(key);
  p->target = std::max(p->target, options_.default_target);  // adapts to queued shapes
  p->last_used = absl::Now();
  p->dormant = false;
}

absl::StatusOr<std::unique_ptr<LeasedVm>> WarmPool::StartVm(
    Pool* pool, bool clone, std::shared_ptr<const vmm::BootCanceller> cancel) {
  const absl::Time t0 = absl::Now();
  auto leased = std::make_unique<LeasedVm>();
  leased->pids_dir = options_.qemu_pids_dir;
  absl::StatusOr<std::unique_ptr<vmm::Vm>> vm;
  vmm::BootFailure failure;
  if (clone) {
    vmm::VmTemplate* snap;
    {
      absl::MutexLock lock(&mu_);
      snap = pool->snapshot.get();
    }
    if (snap == nullptr) return absl::FailedPreconditionError("no snapshot");
    vm = snap->StartClone();
  } else {
    vmm::VmSpec spec = SpecFor(pool->key);
    if (cancel != nullptr) spec.boot_canceller = std::move(cancel);
    vm = launcher_->Boot(spec, &failure);
  }
  if (!vm.ok()) {
    return absl::Status(vm.status().code(),
                        absl::StrCat(clone ? "clone restore" : "cold boot", " failed: ",
                                     vm.status().message(),
                                     failure.console.empty() ? "" : "\nconsole:\n",
                                     Tail(failure.console, 2000)));
  }
  leased->vm = std::move(*vm);
  RecordQemuPid(options_.qemu_pids_dir, leased->vm->pid());
  absl::StatusOr<std::unique_ptr<agent::AgentClient>> client =
      options_.connect_agent ? options_.connect_agent(*leased->vm) : ConnectAgent(*leased->vm);
  if (!client.ok()) return client.status();
  leased->agent = std::move(*client);
  leased->warm = clone;
  leased->ready_s = absl::ToDoubleSeconds(absl::Now() - t0);
  {
    absl::MutexLock lock(&mu_);
    leased->id = absl::StrCat("vm-", ++next_vm_);
    if (clone) pool->last_restore_s = leased->ready_s;
  }
  return leased;
}

absl::Status WarmPool::BuildTemplate(Pool* pool) {
  const absl::Time t0 = absl::Now();
  vmm::BootFailure failure;
  absl::StatusOr<std::unique_ptr<vmm::Vm>> vm = launcher_->Boot(SpecFor(pool->key), &failure);
  if (!vm.ok()) {
    return absl::Status(vm.status().code(),
                        absl::StrCat("template boot failed: ", vm.status().message(), "\n",
                                     Tail(failure.console, 2000)));
  }
  RecordQemuPid(options_.qemu_pids_dir, (*vm)->pid());
  pid_t pid = (*vm)->pid();
  double boot_s = absl::ToDoubleSeconds(absl::Now() - t0);
  absl::StatusOr<std::unique_ptr<vmm::VmTemplate>> snap = launcher_->SaveTemplate(std::move(*vm));
  ForgetQemuPid(options_.qemu_pids_dir, pid);
  absl::MutexLock lock(&mu_);
  pool->template_boot_s = boot_s;
  if (!snap.ok()) {
    // Not retried: the same kernel and shape would fail the same way (sticky, as LevelDB's
    // bg_error_); the pool serves cold boots and says why.
    pool->snapshot_failed = true;
    pool->mode_reason = std::string(snap.status().message());
    spdlog::warn("pool {}: snapshot failed, falling back to cold boots: {}", pool->key.Name(),
                 pool->mode_reason);
    return absl::OkStatus();
  }
  pool->snapshot = std::move(*snap);
  spdlog::info("pool {}: template booted in {:.2f}s and snapshotted", pool->key.Name(), boot_s);
  return absl::OkStatus();
}

void WarmPool::RefillLoop(Pool* pool) {
  absl::Duration backoff = config::kMinBootBackoff;
  while (true) {
    bool need_template;
    {
      absl::MutexLock lock(&mu_);
      // An emptied (dormant) pool rebuilds its template only when it is used again.
      auto work = [this, pool]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || (!pool->dormant && !pool->snapshot && !pool->snapshot_failed) ||
               pool->ready.size() + pool->booting < pool->target;
      };
      const absl::Duration check_every =
          std::clamp(options_.idle_ttl / 4, absl::Milliseconds(10), absl::Minutes(1));
      while (!mu_.AwaitWithTimeout(absl::Condition(&work), check_every)) {
        std::deque<std::unique_ptr<LeasedVm>> idle_vms;
        std::unique_ptr<vmm::VmTemplate> idle_snapshot;
        if (!TakeIdleLocked(pool, &idle_vms, &idle_snapshot)) continue;
        mu_.Unlock();  // QEMU kills and file removal take a moment: not under the lock
        idle_vms.clear();
        idle_snapshot.reset();
        mu_.Lock();
      }
      if (stopping_) return;
      need_template = !pool->snapshot && !pool->snapshot_failed;
      if (!need_template) ++pool->booting;
    }
    absl::Status status;
    if (need_template) {
      status = BuildTemplate(pool);
    } else {
      bool clone;
      {
        absl::MutexLock lock(&mu_);
        clone = pool->snapshot != nullptr;
      }
      absl::StatusOr<std::unique_ptr<LeasedVm>> vm = StartVm(pool, clone);
      absl::MutexLock lock(&mu_);
      --pool->booting;
      if (vm.ok()) {
        (*vm)->from_pool = true;
        pool->ready.push_back(std::move(*vm));
      } else {
        status = vm.status();
      }
    }
    if (status.ok()) {
      backoff = config::kMinBootBackoff;
      continue;
    }
    if (absl::IsCancelled(status)) continue;  // shutdown: the wait above sees stopping_
    {
      absl::MutexLock lock(&mu_);
      ++pool->boot_failures;
      pool->last_error = std::string(status.message().substr(0, 4000));
    }
    spdlog::warn("pool {}: {} (retrying in {})", pool->key.Name(),
                 std::string(status.message().substr(0, 300)), absl::FormatDuration(backoff));
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
    backoff = std::min(backoff * 2, config::kMaxBootBackoff);
  }
}

bool WarmPool::TakeIdleLocked(Pool* pool, std::deque<std::unique_ptr<LeasedVm>>* vms,
                              std::unique_ptr<vmm::VmTemplate>* snapshot) {
  if (options_.idle_ttl == absl::InfiniteDuration() || pool->busy > 0 || pool->booting > 0 ||
      (pool->ready.empty() && !pool->snapshot) ||
      absl::Now() - pool->last_used < options_.idle_ttl) {
    return false;
  }
  spdlog::info("pool {}: unused for {}: releasing {} ready VMs and the template",
               pool->key.Name(), absl::FormatDuration(options_.idle_ttl), pool->ready.size());
  vms->swap(pool->ready);
  *snapshot = std::move(pool->snapshot);
  pool->target = 0;
  pool->dormant = true;
  return true;
}

absl::StatusOr<std::unique_ptr<LeasedVm>> WarmPool::Lease(
    const PoolVmKey& key, LeaseMode mode, std::shared_ptr<const vmm::BootCanceller> cancel) {
  const absl::Time t0 = absl::Now();
  if (mode == LeaseMode::kReadyElseCold) {
    bool pooled;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::UnavailableError("ktstrd is stopping");
      // A dormant pool (idle, template released) is not woken by a one-off shell.
      auto it = pools_.find(key.Name());
      pooled = it != pools_.end() && !it->second->dormant;
    }
    if (!pooled) return BootDetached(key, LeaseCanceller(cancel));
    mode = LeaseMode::kAny;
  }
  Pool* pool;
  bool clone;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("ktstrd is stopping");
    pool = GetOrCreateLocked(key);
    pool->last_used = absl::Now();
    pool->dormant = false;
    if (mode == LeaseMode::kAny && !pool->ready.empty()) {
      std::unique_ptr<LeasedVm> vm = std::move(pool->ready.front());
      pool->ready.pop_front();
      ++pool->busy;
      vm->ready_s = absl::ToDoubleSeconds(absl::Now() - t0);
      return vm;  // the refill thread notices the gap and restores another
    }
    clone = mode != LeaseMode::kForceCold && pool->snapshot != nullptr;
    if (mode == LeaseMode::kForceFreshClone && !clone) {
      return absl::FailedPreconditionError(absl::StrCat("pool ", key.Name(),
                                                        " has no snapshot (yet)"));
    }
    ++pool->booting;
  }
  absl::StatusOr<std::unique_ptr<LeasedVm>> vm = StartVm(pool, clone, LeaseCanceller(cancel));
  absl::MutexLock lock(&mu_);
  --pool->booting;
  if (!vm.ok()) {
    if (absl::IsCancelled(vm.status())) return vm.status();  // not the kernel's fault
    ++pool->boot_failures;
    pool->last_error = std::string(vm.status().message().substr(0, 4000));
    return vm.status();
  }
  ++pool->busy;
  return vm;
}

absl::StatusOr<std::unique_ptr<LeasedVm>> WarmPool::BootDetached(
    const PoolVmKey& key, std::shared_ptr<const vmm::BootCanceller> cancel) {
  Pool detached;  // never in pools_: no refill thread, no template
  detached.key = key;
  detached.snapshot_failed = true;
  {
    absl::MutexLock lock(&mu_);
    ++detached_running_;
  }
  absl::StatusOr<std::unique_ptr<LeasedVm>> vm =
      StartVm(&detached, /*clone=*/false, std::move(cancel));
  if (vm.ok()) {
    (*vm)->detached = true;
  } else {
    absl::MutexLock lock(&mu_);
    --detached_running_;
  }
  return vm;
}

void WarmPool::Released(const PoolVmKey& key, bool detached) {
  absl::MutexLock lock(&mu_);
  if (detached) {
    if (detached_running_ > 0) --detached_running_;
    return;
  }
  auto it = pools_.find(key.Name());
  if (it == pools_.end()) return;
  if (it->second->busy > 0) --it->second->busy;
  it->second->last_used = absl::Now();
}

ktstr::v1::PoolStatus WarmPool::StatusLocked(const Pool& p) const {
  ktstr::v1::PoolStatus s;
  s.mutable_key()->set_kernel_key(p.key.kernel_key);
  auto* t = s.mutable_key()->mutable_shape()->mutable_topology();
  t->set_numa_nodes(p.key.topology.numa_nodes);
  t->set_llcs(p.key.topology.llcs);
  t->set_cores_per_llc(p.key.topology.cores_per_llc);
  t->set_threads_per_core(p.key.topology.threads_per_core);
  s.mutable_key()->mutable_shape()->set_memory_mb(p.key.memory_mb);
  for (const std::string& a : p.key.kernel_args) s.mutable_key()->add_kernel_args(a);
  s.set_topology(p.key.topology.ToString());
  s.set_mode(p.snapshot_failed ? ktstr::v1::POOL_MODE_COLD_BOOT : ktstr::v1::POOL_MODE_SNAPSHOT);
  s.set_mode_reason(p.snapshot_failed ? p.mode_reason
                    : p.snapshot     ? ""
                    : p.dormant      ? "idle: template released, rebuilt on demand"
                                     : "template booting");
  s.set_ready(p.ready.size());
  s.set_booting(p.booting + ((!p.dormant && !p.snapshot && !p.snapshot_failed) ? 1 : 0));
  s.set_busy(p.busy);
  s.set_target(p.target);
  s.set_boot_failures(p.boot_failures);
  s.set_last_error(p.last_error);
  s.set_template_boot_s(p.template_boot_s);
  s.set_last_restore_s(p.last_restore_s);
  return s;
}

std::vector<ktstr::v1::PoolStatus> WarmPool::Status() {
  absl::MutexLock lock(&mu_);
  std::vector<ktstr::v1::PoolStatus> out;
  for (const auto& [name, p] : pools_) out.push_back(StatusLocked(*p));
  return out;
}

absl::StatusOr<ktstr::v1::PoolStatus> WarmPool::SetTarget(const PoolVmKey& key, uint32_t target) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("ktstrd is stopping");
  Pool* p = GetOrCreateLocked(key);
  p->target = target;
  p->last_used = absl::Now();
  p->dormant = false;
  while (p->ready.size() > target) p->ready.pop_back();  // drain extra clones
  return StatusLocked(*p);
}

uint32_t WarmPool::vms_running() {
  absl::MutexLock lock(&mu_);
  uint32_t n = detached_running_;
  for (const auto& [name, p] : pools_) n += p->ready.size() + p->booting + p->busy;
  return n;
}

void WarmPool::Shutdown() {
  std::map<std::string, std::unique_ptr<Pool>> pools;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // Refill threads and leases inside a cold boot end it now; they see stopping_ next.
  shutdown_canceller_->Cancel();
  std::vector<Pool*> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, p] : pools_) all.push_back(p.get());
  }
  for (Pool* p : all) {
    if (p->refill.joinable()) p->refill.join();
  }
  absl::MutexLock lock(&mu_);
  pools.swap(pools_);  // destroyed below: ready VMs killed, snapshot files removed
}

}  // namespace ktstr::daemon
