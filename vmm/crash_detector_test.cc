#include "vmm/crash_detector.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

std::string ReadTestData(const std::string& name) {
  std::ifstream in("vmm/testdata/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<CrashEvent> FeedAll(const std::string& text) {
  CrashDetector d;
  d.Feed(text);
  d.Finish();
  return d.events();
}

// Real capture: sysrq-c on the default kernel.
TEST(CrashDetectorTest, RealSysrqPanicIsAKernelPanicWithItsReason) {
  const std::string console = ReadTestData("console_sysrq_panic.txt");
  ASSERT_FALSE(console.empty());
  std::vector<CrashEvent> events = FeedAll(console);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, CrashKind::kKernelPanic);
  EXPECT_EQ(events[0].reason, "sysrq triggered crash");
  EXPECT_EQ(events[0].line, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(console.compare(events[0].offset, 15, "[    2.787424] "), 0);
  EXPECT_TRUE(IsFatal(events[0].kind));
}

// Real capture: a clean boot has no events (mtrr warnings and topology lines are not crashes).
TEST(CrashDetectorTest, RealCleanBootHasNoEvents) {
  const std::string console = ReadTestData("console_clean_boot_tiny2llc.txt");
  ASSERT_NE(console.find("KTSTR_AGENT_READY"), std::string::npos);
  EXPECT_TRUE(FeedAll(console).empty());
}

TEST(CrashDetectorTest, ByteByByteFeedingFindsTheSameEvents) {
  const std::string console = ReadTestData("console_sysrq_panic.txt");
  CrashDetector d;
  for (char c : console) d.Feed(std::string(1, c));
  d.Finish();
  ASSERT_EQ(d.events().size(), 1u);
  EXPECT_EQ(d.events()[0].offset, FeedAll(console)[0].offset);
}

// The following lines follow the kernel's printk formats (a real Oops, lockup or stall cannot
// be provoked from userspace on the default kernel without lkdtm, which it lacks).
struct LineCase {
  const char* line;
  CrashKind kind;
  const char* reason;
};

class ClassifyLineTest : public ::testing::TestWithParam<LineCase> {};

TEST_P(ClassifyLineTest, Classifies) {
  std::optional<CrashEvent> e = ClassifyLine(GetParam().line);
  ASSERT_TRUE(e.has_value()) << GetParam().line;
  EXPECT_EQ(e->kind, GetParam().kind) << CrashKindName(e->kind);
  EXPECT_EQ(e->reason, GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    KernelFormats, ClassifyLineTest,
    ::testing::Values(
        LineCase{"[   12.100000] Kernel panic - not syncing: Fatal exception",
                 CrashKind::kKernelPanic, "Fatal exception"},
        LineCase{"[   12.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008",
                 CrashKind::kBug, "kernel NULL pointer dereference, address: 0000000000000008"},
        LineCase{"[   12.0] kernel BUG at mm/slub.c:440!", CrashKind::kBug,
                 "kernel BUG at mm/slub.c:440!"},
        LineCase{"[   12.000300] Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI", CrashKind::kOops,
                 "Oops: 0002 [#1] PREEMPT SMP NOPTI"},
        LineCase{"[    3.1] Oops: general protection fault, probably for non-canonical address "
                 "0xdead000000000100: 0000 [#1] SMP NOPTI",
                 CrashKind::kGeneralProtectionFault,
                 "Oops: general protection fault, probably for non-canonical address "
                 "0xdead000000000100: 0000 [#1] SMP NOPTI"},
        LineCase{"[    5.2] WARNING: CPU: 2 PID: 1 at kernel/sched/ext.c:1234 scx_x+0x12/0x40",
                 CrashKind::kWarning, "CPU: 2 PID: 1 at kernel/sched/ext.c:1234 scx_x+0x12/0x40"},
        LineCase{"[   30.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
                 CrashKind::kRcuStall, "rcu_preempt detected stalls on CPUs/tasks:"},
        LineCase{"[   30.0] rcu: INFO: rcu_preempt self-detected stall on CPU",
                 CrashKind::kRcuStall, "rcu_preempt self-detected stall on CPU"},
        LineCase{"[   44.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [spin:123]",
                 CrashKind::kSoftLockup, "soft lockup - CPU#1 stuck for 22s! [spin:123]"},
        LineCase{"[   44.0] watchdog: Watchdog detected hard LOCKUP on cpu 3",
                 CrashKind::kHardLockup, "watchdog: Watchdog detected hard LOCKUP on cpu 3"},
        LineCase{"[  245.0] INFO: task kworker/0:1:12 blocked for more than 122 seconds.",
                 CrashKind::kHungTask, "task kworker/0:1:12 blocked for more than 122 seconds."},
        LineCase{"[   9.0] sched_ext: BPF scheduler \"minfifo\" disabled (runnable task stall)",
                 CrashKind::kSchedExtExit, "runnable task stall"}));

TEST(CrashDetectorTest, OrdinaryLinesAreNotEvents) {
  for (const char* line : {"[    1.0] mtrr: your CPUs had inconsistent fixed MTRR settings",
                           "KTSTR_AGENT_READY", "", "a BUG: in the middle of user output?",
                           "[    2.0] sched_ext: BPF scheduler \"x\" enabled"}) {
    EXPECT_FALSE(ClassifyLine(line).has_value()) << line;
  }
}

TEST(CrashDetectorTest, SchedExtExitCarriesNameKindAndDetailLine) {
  CrashDetector d;
  d.Feed(
      "[   9.1] sched_ext: BPF scheduler \"minfifo\" disabled (runnable task stall)\n"
      "[   9.1] sched_ext: minfifo: spinner[123] failed to run for 7.544s\n"
      "[  10.0] sched_ext: BPF scheduler \"lazy\" disabled (scx_bpf_error)\n"
      "[  10.0] sched_ext: lazy: /src/lazy.bpf.c:434: invalid DSQ\n"
      "[  11.0] sched_ext: BPF scheduler \"minfifo\" disabled (unregistered from user space)\n"
      "[  12.0] sched_ext: BPF scheduler \"rt\" disabled (runtime error)\n"
      "[  12.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n");
  const std::vector<CrashEvent>& e = d.events();
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].scheduler, "minfifo");
  EXPECT_EQ(e[0].sched_ext_exit, SchedExtExitKind::kStall);
  EXPECT_EQ(e[0].detail, "spinner[123] failed to run for 7.544s");
  EXPECT_EQ(e[1].sched_ext_exit, SchedExtExitKind::kBpfError);
  EXPECT_EQ(e[1].detail, "/src/lazy.bpf.c:434: invalid DSQ");
  EXPECT_EQ(e[2].sched_ext_exit, SchedExtExitKind::kUnregistered);
  EXPECT_EQ(e[2].detail, "");
  EXPECT_FALSE(IsFatal(e[2].kind));
  EXPECT_EQ(e[3].sched_ext_exit, SchedExtExitKind::kRuntimeError);
  // The RCU line right after a detail-less exit is still its own event.
  EXPECT_EQ(e[4].kind, CrashKind::kRcuStall);
}

TEST(CrashDetectorTest, PartialLastLineIsClassifiedAtFinish) {
  CrashDetector d;
  EXPECT_TRUE(d.Feed("Kernel panic - not syncing: x").empty());
  std::vector<CrashEvent> tail = d.Finish();
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].kind, CrashKind::kKernelPanic);
}

}  // namespace
}  // namespace ktstr::vmm
