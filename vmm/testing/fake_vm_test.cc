#include "vmm/testing/fake_vm.h"

#include "gtest/gtest.h"

namespace ktstr::vmm::testing {
namespace {

VmSpec Spec() {
  VmSpec spec;
  spec.topology = Topology{1, 2, 2, 1};
  return spec;
}

TEST(FakeVmTest, BootSaveCloneAndQueuedFailures) {
  FakeLauncher launcher;
  BootFailure failure;
  absl::StatusOr<std::unique_ptr<Vm>> vm = launcher.Boot(Spec(), &failure);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ((*vm)->state(), VmState::kReady);
  EXPECT_NE((*vm)->ConsoleText().find(config::kReadyMarker), std::string::npos);

  absl::StatusOr<std::unique_ptr<VmTemplate>> templ = launcher.SaveTemplate(std::move(*vm));
  ASSERT_TRUE(templ.ok());
  absl::StatusOr<std::unique_ptr<Vm>> clone = (*templ)->StartClone();
  ASSERT_TRUE(clone.ok());
  EXPECT_EQ((*clone)->snapshot_taken_at(), (*templ)->taken_at());
  EXPECT_EQ(launcher.boots(), 1);
  EXPECT_EQ(launcher.clones(), 1);

  launcher.QueueBootFailure(BootFailureKind::kCrashed);
  launcher.QueueBootFailure(BootFailureKind::kTimedOut);
  absl::StatusOr<std::unique_ptr<Vm>> crashed = launcher.Boot(Spec(), &failure);
  EXPECT_TRUE(absl::IsAborted(crashed.status()));
  EXPECT_EQ(failure.kind, BootFailureKind::kCrashed);
  ASSERT_EQ(failure.crashes.size(), 1u);
  EXPECT_EQ(failure.crashes[0].kind, CrashKind::kKernelPanic);
  EXPECT_TRUE(absl::IsDeadlineExceeded((*templ)->StartClone().status()));
  EXPECT_TRUE(launcher.Boot(Spec(), nullptr).ok());
}

TEST(FakeVmTest, ConsoleRunsThroughTheCrashDetectorAndKillEndsIt) {
  FakeVm vm(Spec(), "/tmp/x.sock", "");
  EXPECT_FALSE(vm.HasFatalCrash());
  vm.AppendConsole("[ 1.0] BUG: kernel NULL pointer dereference, address: 0\n");
  EXPECT_TRUE(vm.HasFatalCrash());
  EXPECT_EQ(vm.Crashes().size(), 1u);
  EXPECT_FALSE(vm.WaitExited(absl::ZeroDuration()));
  vm.Kill();
  EXPECT_TRUE(vm.WaitExited(absl::ZeroDuration()));
  EXPECT_EQ(vm.state(), VmState::kKilled);
}

}  // namespace
}  // namespace ktstr::vmm::testing
