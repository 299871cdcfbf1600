// Crash observations from a VM's console, on a FakeVm whose console runs through the real
// crash detector (no QEMU needed for the mapping and the wait).
#include "daemon/vm_crash.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "vmm/testing/fake_vm.h"

namespace ktstr::daemon {
namespace {

using vmm::testing::FakeVm;

FakeVm MakeVm() { return FakeVm(vmm::VmSpec{}, "", ""); }

constexpr char kWarning[] =
    "[    1.000000] WARNING: CPU: 0 PID: 1 at kernel/sched/core.c:100 f+0x1/0x2\n";
constexpr char kPanic[] = "[    2.000000] Kernel panic - not syncing: sysrq triggered crash\n";

TEST(VmCrashTest, WorstCrashPrefersAFatalOneOverAnEarlierWarning) {
  FakeVm vm = MakeVm();
  EXPECT_FALSE(WorstCrash(vm).has_value());
  vm.AppendConsole(kWarning);
  std::optional<CrashObservation> c = WorstCrash(vm);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, ktstr::v1::CRASH_KIND_WARNING);
  vm.AppendConsole(kPanic);
  c = WorstCrash(vm);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, ktstr::v1::CRASH_KIND_PANIC);
  EXPECT_EQ(c->headline, "Kernel panic - not syncing: sysrq triggered crash");
}

TEST(VmCrashTest, AwaitFatalCrashSeesAPanicPrintedWhileItWaits) {
  FakeVm vm = MakeVm();
  vm.AppendConsole(kWarning);  // a warning alone is not why a guest went away
  std::thread printer([&] {
    absl::SleepFor(absl::Milliseconds(100));
    vm.AppendConsole(kPanic);
  });
  std::optional<CrashObservation> c = AwaitFatalCrash(vm, absl::Seconds(30));
  printer.join();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, ktstr::v1::CRASH_KIND_PANIC);
}

TEST(VmCrashTest, AwaitFatalCrashGivesUpAfterTheSettleTime) {
  FakeVm vm = MakeVm();
  vm.AppendConsole(kWarning);
  EXPECT_FALSE(AwaitFatalCrash(vm, absl::Milliseconds(200)).has_value());
}

}  // namespace
}  // namespace ktstr::daemon
