// Classification on the kernel's exact sched_ext lines (formats from kernel/sched/ext/ext.c of
// the 7.3 guest kernel; values as measured in the guest).
#include "guest_agent/sched/sched_ext_log.h"

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

using ktstr::v1::SchedExitKind;

struct ExitCase {
  const char* what;
  std::vector<std::string> lines;
  SchedExitKind kind;
  std::string reason;
  std::string message;
};

SchedExtLogTracker Track(const std::vector<std::string>& lines, const std::string& name) {
  SchedExtLogTracker t(name);
  for (const std::string& l : lines) t.Feed(l);
  return t;
}

TEST(SchedExtLog, ClassifiesEveryExitFormOnTheKernelsLines) {
  const std::vector<ExitCase> cases = {
      {"loader stopped",
       {"sched_ext: BPF scheduler \"scx_fifo\" enabled",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (unregistered from user space)"},
       ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED,
       "unregistered from user space",
       ""},
      {"watchdog stall of a user task",
       {"sched_ext: BPF scheduler \"scx_fifo\" enabled",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)",
        "sched_ext: scx_fifo: stress-ng-cpu[213] failed to run for 7.544s",
        "CPU: 2 UID: 0 PID: 213 Comm: stress-ng-cpu Not tainted 7.3.4+deb13-cloud-amd64 #1"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runnable task stall",
       "stress-ng-cpu[213] failed to run for 7.544s"},
      {"watchdog stall of a kernel thread",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)",
        "sched_ext: scx_fifo: rcu_tasks_kthre[45] failed to run for 7.484s"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runnable task stall",
       "rcu_tasks_kthre[45] failed to run for 7.484s"},
      {"scx_fifo --stall-after=200 --timeout-ms=3000 in the guest (captured)",
       {"sched_ext: scx_fifo: watchdog timeout 3000ms <= rescue overload threshold 4096ms",
        "sched_ext: BPF scheduler \"scx_fifo\" enabled",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)",
        "sched_ext: scx_fifo: sh[133] failed to run for 3.496s"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runnable task stall",
       "sh[133] failed to run for 3.496s"},
      {"scx_fifo --error-after=100 in the guest (captured)",
       {"sched_ext: BPF scheduler \"scx_fifo\" enabled",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (scx_bpf_error)",
        "sched_ext: scx_fifo: scx_fifo: --error-after 100 inserts reached",
        "   bpf__sched_ext_ops_enqueue+0x50/0xad"},
       ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR,
       "scx_bpf_error",
       "scx_fifo: --error-after 100 inserts reached"},
      {"livelock (same exit kind, only the message differs)",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)",
        "sched_ext: scx_fifo: watchdog failed to check in for 5.004s"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runnable task stall",
       "watchdog failed to check in for 5.004s"},
      {"RCU stall detector first: a runtime error that is a stall",
       {"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (runtime error)",
        "sched_ext: scx_fifo: RCU CPU stall on CPUs ()"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runtime error",
       "RCU CPU stall on CPUs ()"},
      {"RCU stall with a CPU list",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (runtime error)",
        "sched_ext: scx_fifo: RCU CPU stall on CPUs (0-3)"},
       ktstr::v1::SCHED_EXIT_KIND_STALL,
       "runtime error",
       "RCU CPU stall on CPUs (0-3)"},
      {"scx_bpf_error",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (scx_bpf_error)",
        "sched_ext: scx_fifo: scx_fifo: --error-after 100 inserts reached"},
       ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR,
       "scx_bpf_error",
       "scx_fifo: --error-after 100 inserts reached"},
      {"runtime error: invalid DSQ",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (runtime error)",
        "sched_ext: scx_fifo: non-existent DSQ 0x1234"},
       ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR,
       "runtime error",
       "non-existent DSQ 0x1234"},
      {"runtime error: soft lockup",
       {"sched_ext: Soft lockup - CPU 1 stuck for 22s, disabling BPF scheduler",
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (runtime error)",
        "sched_ext: scx_fifo: soft lockup - CPU 1 stuck for 22s"},
       ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR,
       "runtime error",
       "soft lockup - CPU 1 stuck for 22s"},
      {"sysrq-S",
       {"sysrq: Disable sched_ext and revert all tasks to CFS",  // captured in the guest
        "sched_ext: BPF scheduler \"scx_fifo\" disabled (disabled by sysrq-S)"},
       ktstr::v1::SCHED_EXIT_KIND_SYSRQ,
       "disabled by sysrq-S",
       ""},
      {"scx_bpf_exit from BPF",
       {"sched_ext: BPF scheduler \"scx_fifo\" disabled (unregistered from BPF)"},
       ktstr::v1::SCHED_EXIT_KIND_OTHER,
       "unregistered from BPF",
       ""},
  };
  for (const ExitCase& c : cases) {
    SCOPED_TRACE(c.what);
    SchedExtLogTracker t = Track(c.lines, "scx_fifo");
    ASSERT_TRUE(t.disabled_seen());
    EXPECT_EQ(t.kind(), c.kind) << ktstr::v1::SchedExitKind_Name(t.kind());
    EXPECT_EQ(t.reason(), c.reason);
    EXPECT_EQ(t.message(), c.message);
  }
}

TEST(SchedExtLog, IgnoresOtherSchedulersAndNonExitLines) {
  SchedExtLogTracker t = Track(
      {
          "sched_ext: BPF scheduler \"other\" enabled",
          "sched_ext: BPF scheduler \"other\" disabled (runnable task stall)",
          "sched_ext: other: x[1] failed to run for 31.000s",
          // Printed at enable when the timeout is short; it is not an exit message.
          "sched_ext: scx_fifo: watchdog timeout 2000ms <= rescue overload threshold 4096ms",
          "sched_ext: BPF scheduler \"scx_fifo\" enabled (partial)",
          "random: crng init done",
          "xsched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall)",
          "sched_ext: BPF scheduler \"scx_fifo\" disabled (runnable task stall",
      },
      "scx_fifo");
  EXPECT_TRUE(t.enabled_seen());
  EXPECT_FALSE(t.disabled_seen());
  EXPECT_EQ(t.kind(), ktstr::v1::SCHED_EXIT_KIND_NONE);
  EXPECT_TRUE(t.message().empty());
}

TEST(SchedExtLog, FirstDisableWinsAndUnnamedTrackerAdoptsTheFirstName) {
  SchedExtLogTracker t = Track(
      {"sched_ext: BPF scheduler \"a\" enabled",
       "sched_ext: BPF scheduler \"a\" disabled (scx_bpf_error)", "sched_ext: a: first",
       "sched_ext: BPF scheduler \"a\" disabled (unregistered from user space)",
       "sched_ext: a: second"},
      "");
  EXPECT_EQ(t.ops_name(), "a");
  EXPECT_EQ(t.kind(), ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR);
  EXPECT_EQ(t.message(), "first");
}

TEST(SchedExtLog, ParsesSubSchedulerAndRejectsMalformedNames) {
  std::optional<SchedExtLine> l =
      ParseSchedExtLine("sched_ext: BPF sub-scheduler \"child\" disabled (parent exiting)\n");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->type, SchedExtLine::Type::kDisabled);
  EXPECT_EQ(l->ops_name, "child");
  EXPECT_EQ(l->text, "parent exiting");
  EXPECT_FALSE(ParseSchedExtLine("sched_ext: BPF scheduler \"\" enabled").has_value());
  EXPECT_FALSE(ParseSchedExtLine("sched_ext: BPF scheduler \"x enabled").has_value());
  EXPECT_FALSE(ParseSchedExtLine("sched_ext: a b: c").has_value());
  EXPECT_FALSE(ParseSchedExtLine("").has_value());
}

TEST(SchedExtLog, EjectionKinds) {
  EXPECT_TRUE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_STALL));
  EXPECT_TRUE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR));
  EXPECT_TRUE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR));
  EXPECT_TRUE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_SYSRQ));
  EXPECT_TRUE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_OTHER));
  EXPECT_FALSE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED));
  EXPECT_FALSE(IsEjection(ktstr::v1::SCHED_EXIT_KIND_NONE));
}

// libbpf's output for a program the verifier rejected (shape of libbpf 1.8 + 7.3 verifier).
constexpr char kVerifierRejectLog[] =
    "libbpf: prog 'fifo_enqueue': BPF program load failed: Permission denied\n"
    "libbpf: prog 'fifo_enqueue': -- BEGIN PROG LOAD LOG --\n"
    "0: R1=ctx() R10=fp0\n"
    "; void FIFO_OP(fifo_enqueue, struct task_struct *p, u64 enq_flags) { @ scx_fifo.bpf.c:131\n"
    "2: (85) call bpf_get_prandom_u32#7       ; R0_w=scalar()\n"
    "3: (79) r1 = *(u64 *)(r0 +0)\n"
    "R0 invalid mem access 'scalar'\n"
    "processed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 "
    "mark_read 0\n"
    "-- END PROG LOAD LOG --\n"
    "libbpf: prog 'fifo_enqueue': failed to load: -13\n"
    "libbpf: failed to load object 'scx_fifo'\n"
    "scx_fifo: FAILED_PRECONDITION: loading scx_fifo: Permission denied\n";

TEST(SchedExtLog, ExtractsTheVerifiersComplaintFromARealRejection) {
  // scx_fifo --fail-verify loaded in the 7.3 guest (scheduler_supervisor_vm_test), verbatim.
  std::ifstream in("guest_agent/sched/testdata/verifier_reject_scx_fifo_7.3.log");
  ASSERT_TRUE(in) << "testdata missing";
  std::string log((std::istreambuf_iterator<char>(in)), {});
  std::optional<std::string> e = ExtractVerifierError(log);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e,
            "prog 'fifo_enqueue': R1 invalid mem access 'scalar' (Verification failed: Register "
            "Type Safety: Invalid dereference)");
}

TEST(SchedExtLog, ExtractsTheVerifiersComplaint) {
  std::optional<std::string> e = ExtractVerifierError(kVerifierRejectLog);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e, "prog 'fifo_enqueue': R0 invalid mem access 'scalar'");
  EXPECT_FALSE(ExtractVerifierError("scx_fifo: attached\n").has_value());
}

TEST(SchedExtLog, ParsesTheLoadersExitLine) {
  auto e = ParseLoaderExitLine(
      "scx_fifo: attached\n\nDEBUG DUMP\n====\n\nEXIT: runtime error (RCU CPU stall on CPUs "
      "(0-3)) on CPU 1 [kind 1024, code 0]\n");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->first, "runtime error");
  EXPECT_EQ(e->second, "RCU CPU stall on CPUs (0-3)");
  EXPECT_EQ(SchedExitKindFromReason(e->first, e->second), ktstr::v1::SCHED_EXIT_KIND_STALL);
  auto u = ParseLoaderExitLine("EXIT: unregistered from user space [kind 64, code 0]\n");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->first, "unregistered from user space");
  EXPECT_EQ(u->second, "");
  EXPECT_FALSE(ParseLoaderExitLine("no exit here\n").has_value());
}

}  // namespace
}  // namespace ktstr::agent
