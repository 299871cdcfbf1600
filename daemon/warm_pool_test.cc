// WarmPool over vmm's FakeLauncher (no QEMU, no guest: the agent step is replaced), for the
// pool's own logic: template then clones up to the target, leases, refill, retries with
// the failure reported, cold mode. The real VM path is in ktstrd_vm_itest.
#include "daemon/warm_pool.h"

#include <functional>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "vmm/testing/fake_vm.h"

namespace ktstr::daemon {
namespace {

class WarmPoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<WarmPool> MakePool(uint32_t target, bool snapshots = true,
                                     absl::Duration idle_ttl = absl::InfiniteDuration()) {
    auto launcher = std::make_unique<vmm::testing::FakeLauncher>();
    launcher_ = launcher.get();
    WarmPoolOptions o;
    o.initramfs_path = "/dev/null";
    o.work_dir = std::string(getenv("TEST_TMPDIR"));
    o.qemu_pids_dir = o.work_dir + "/pids";
    o.default_target = target;
    o.snapshots = snapshots;
    o.idle_ttl = idle_ttl;
    o.connect_agent = [](vmm::Vm&) -> absl::StatusOr<std::unique_ptr<agent::AgentClient>> {
      return std::unique_ptr<agent::AgentClient>();  // no guest behind a FakeVm
    };
    return std::make_unique<WarmPool>(o, std::move(launcher));
  }

  static PoolVmKey Key() {
    PoolVmKey k;
    k.kernel_key = "k";
    k.kernel_path = "/dev/null";
    k.topology.cores_per_llc = 2;
    k.memory_mb = 512;
    return k;
  }

  // Polls the one pool's status until `pred` holds (fakes boot instantly; refill is async).
  static bool WaitFor(WarmPool& pool, std::function<bool(const ktstr::v1::PoolStatus&)> pred) {
    for (int i = 0; i < 500; ++i) {
      auto st = pool.Status();
      if (!st.empty() && pred(st[0])) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  vmm::testing::FakeLauncher* launcher_ = nullptr;
};

TEST_F(WarmPoolTest, TemplateThenClonesUpToTargetAndRefillAfterLease) {
  auto pool = MakePool(2);
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 2; }));
  auto st = pool->Status()[0];
  EXPECT_EQ(st.mode(), ktstr::v1::POOL_MODE_SNAPSHOT);
  EXPECT_EQ(st.topology(), "1n1l2c1t");
  EXPECT_EQ(launcher_->boots(), 1);  // the template only
  EXPECT_EQ(launcher_->clones(), 2);

  auto vm = pool->Lease(Key(), LeaseMode::kAny);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_TRUE((*vm)->warm);
  EXPECT_TRUE((*vm)->from_pool);
  EXPECT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 2 && s.busy() == 1; }));
  EXPECT_EQ(launcher_->clones(), 3);
  vm->reset();
  pool->Released(Key());
  EXPECT_EQ(pool->Status()[0].busy(), 0u);
}

TEST_F(WarmPoolTest, BootFailureIsRetriedAndReported) {
  auto pool = MakePool(1);
  launcher_->QueueBootFailure(vmm::BootFailureKind::kTimedOut);  // the template's first boot
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.boot_failures() == 1; }));
  EXPECT_NE(pool->Status()[0].last_error(), "");
  // Retried after the backoff (1 s), then the pool fills.
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 1; }));
  EXPECT_EQ(launcher_->boots(), 2);
}

TEST_F(WarmPoolTest, ForcedColdBootAndSetTarget) {
  auto pool = MakePool(0);
  auto cold = pool->Lease(Key(), LeaseMode::kForceCold);
  ASSERT_TRUE(cold.ok());
  EXPECT_FALSE((*cold)->warm);
  EXPECT_FALSE((*cold)->from_pool);
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.mode_reason().empty(); }));
  auto st = pool->SetTarget(Key(), 3);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->target(), 3u);
  EXPECT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 3; }));
  ASSERT_TRUE(pool->SetTarget(Key(), 0).ok());
  EXPECT_EQ(pool->Status()[0].ready(), 0u);  // drained
}

TEST_F(WarmPoolTest, WithoutSnapshotsEveryVmBootsColdAndSaysWhy) {
  auto pool = MakePool(1, /*snapshots=*/false);
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 1; }));
  auto st = pool->Status()[0];
  EXPECT_EQ(st.mode(), ktstr::v1::POOL_MODE_COLD_BOOT);
  EXPECT_NE(st.mode_reason().find("snapshots disabled"), std::string::npos);
  EXPECT_EQ(launcher_->clones(), 0);
  auto vm = pool->Lease(Key(), LeaseMode::kAny);
  ASSERT_TRUE(vm.ok());
  EXPECT_FALSE((*vm)->warm);
}

TEST_F(WarmPoolTest, KernelArgsBootWithTheVmAndSeparatePools) {
  auto pool = MakePool(1);
  PoolVmKey plain = Key(), nosmt = Key();
  nosmt.kernel_args = {"nosmt", "sched_ext.slice_bypass_us=500"};
  EXPECT_NE(plain.Name(), nosmt.Name());
  auto a = pool->Lease(nosmt, LeaseMode::kAny);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->vm->spec().extra_kernel_args, nosmt.kernel_args);
  auto b = pool->Lease(plain, LeaseMode::kAny);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->vm->spec().extra_kernel_args.empty());
  std::vector<ktstr::v1::PoolStatus> st = pool->Status();
  ASSERT_EQ(st.size(), 2u);
  int with_args = 0;
  for (const auto& s : st) with_args += s.key().kernel_args_size() == 2;
  EXPECT_EQ(with_args, 1);
  a->reset();
  pool->Released(nosmt);
  b->reset();
  pool->Released(plain);
}

TEST_F(WarmPoolTest, UnusedPoolReleasesItsVmsAndTemplateAndRebuildsOnDemand) {
  auto pool = MakePool(1, true, absl::Milliseconds(200));
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 1; }));
  EXPECT_EQ(pool->vms_running(), 1u);
  // Nobody leases: after the TTL the clone and the template are gone, and stay gone.
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 0 && s.target() == 0; }));
  EXPECT_EQ(pool->vms_running(), 0u);
  ktstr::v1::PoolStatus st = pool->Status()[0];
  EXPECT_EQ(st.booting(), 0u);
  EXPECT_NE(st.mode_reason().find("idle"), std::string::npos) << st.mode_reason();
  EXPECT_EQ(launcher_->boots(), 1);
  // Demand returns: a new template, then a clone.
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 1; }));
  EXPECT_EQ(launcher_->boots(), 2);
}

TEST_F(WarmPoolTest, LeasedVmKeepsItsPoolFromGoingIdle) {
  auto pool = MakePool(1, true, absl::Milliseconds(100));
  pool->NoteDemand(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 1; }));
  auto vm = pool->Lease(Key(), LeaseMode::kAny);
  ASSERT_TRUE(vm.ok()) << vm.status();
  absl::SleepFor(absl::Milliseconds(400));  // several TTLs while the job runs
  ktstr::v1::PoolStatus st = pool->Status()[0];
  EXPECT_EQ(st.busy(), 1u);
  EXPECT_EQ(st.target(), 1u) << "emptied while a VM of it was leased";
  vm->reset();
  pool->Released(Key());
  ASSERT_TRUE(WaitFor(*pool, [](const auto& s) { return s.ready() == 0 && s.target() == 0; }));
}

// A job cancelled while its VM cold boots ends the boot (vmm's BootCanceller), and a
// cancelled boot is not counted against the kernel as a boot failure.
TEST_F(WarmPoolTest, ALeaseCancelledDuringItsColdBootEndsTheBoot) {
  auto pool = MakePool(0, /*snapshots=*/false);
  launcher_->QueueBootFailure(vmm::BootFailureKind::kCancelled);  // a boot that never ends
  auto cancel = std::make_shared<vmm::BootCanceller>();
  absl::StatusOr<std::unique_ptr<LeasedVm>> vm;
  std::thread lease([&] { vm = pool->Lease(Key(), LeaseMode::kAny, cancel); });
  while (launcher_->boots() == 0) absl::SleepFor(absl::Milliseconds(5));
  cancel->Cancel();
  lease.join();
  EXPECT_TRUE(absl::IsCancelled(vm.status())) << vm.status();
  EXPECT_EQ(launcher_->cancelled_boots(), 1);
  EXPECT_EQ(pool->Status()[0].boot_failures(), 0u);
  // The pool itself is fine: the next lease boots.
  EXPECT_TRUE(pool->Lease(Key(), LeaseMode::kAny).ok());
}

// ktstrd stopping while a template boots (a kernel that hangs at boot, or just TCG) does not
// wait for the boot timeout: Shutdown cancels the boot.
TEST_F(WarmPoolTest, ShutdownCancelsATemplateBootInProgress) {
  auto pool = MakePool(1);
  launcher_->QueueBootFailure(vmm::BootFailureKind::kCancelled);
  pool->NoteDemand(Key());
  while (launcher_->boots() == 0) absl::SleepFor(absl::Milliseconds(5));
  pool->Shutdown();
  EXPECT_EQ(launcher_->cancelled_boots(), 1);
  EXPECT_EQ(pool->vms_running(), 0u);
}

}  // namespace
}  // namespace ktstr::daemon
