#include "daemon/verdict.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

using ktstr::agent::v1::TestResult;

TestResult Report(ktstr::v1::TestOutcome outcome, const std::string& detail = "") {
  TestResult r;
  r.mutable_report()->set_outcome(outcome);
  r.mutable_report()->set_stats_text("2 workers");
  if (!detail.empty()) r.mutable_report()->add_details()->set_message(detail);
  return r;
}

CrashObservation Crash(ktstr::v1::CrashKind kind, std::string headline) {
  return CrashObservation{kind, std::move(headline), "...console..."};
}

TEST(MergeVerdict, PassKeepsReportAndNoExcerpt) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_PASS);
  in.console_tail = "boot noise";
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_PASS);
  EXPECT_EQ(v.report().stats_text(), "2 workers");
  EXPECT_EQ(v.console_excerpt(), "");
}

TEST(MergeVerdict, FailCarriesFirstDetail) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_FAIL, "stuck 3500ms on cpu1 at +1200ms");
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_FAIL);
  EXPECT_EQ(v.reason(), "stuck 3500ms on cpu1 at +1200ms");
}

TEST(MergeVerdict, PanicBeatsPassAndTimeout) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_PASS);
  in.crash = Crash(ktstr::v1::CRASH_KIND_PANIC, "Kernel panic - not syncing: oops");
  in.abort = AbortReason::kTimeout;
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_VM_CRASH);
  EXPECT_EQ(v.crash_kind(), ktstr::v1::CRASH_KIND_PANIC);
  EXPECT_EQ(v.reason(), "kernel panic: Kernel panic - not syncing: oops");
  EXPECT_EQ(v.console_excerpt(), "...console...");
}

TEST(MergeVerdict, WarningKeepsPassButRecordsIt) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_PASS);
  in.crash = Crash(ktstr::v1::CRASH_KIND_WARNING, "WARNING: at kernel/foo.c:1");
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_PASS);
  EXPECT_EQ(v.crash_kind(), ktstr::v1::CRASH_KIND_WARNING);
  EXPECT_EQ(v.console_excerpt(), "...console...");
}

TEST(MergeVerdict, TimeoutWithoutResult) {
  VerdictInputs in;
  in.abort = AbortReason::kTimeout;
  in.timeout_s = 90;
  in.console_tail = "last lines";
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_TIMEOUT);
  EXPECT_EQ(v.reason(), "timed out after 90s");
  EXPECT_EQ(v.console_excerpt(), "last lines");
}

TEST(MergeVerdict, CancelAndShutdownWin) {
  VerdictInputs in;
  in.abort = AbortReason::kCancelled;
  in.crash = Crash(ktstr::v1::CRASH_KIND_PANIC, "x");
  EXPECT_EQ(MergeVerdict(in).kind(), ktstr::v1::VERDICT_KIND_CANCELLED);
  in.abort = AbortReason::kShutdown;
  EXPECT_EQ(MergeVerdict(in).kind(), ktstr::v1::VERDICT_KIND_INTERRUPTED);
}

TEST(MergeVerdict, SchedulerFateBeatsTestOutcome) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_FAIL, "starved");
  auto* s = in.agent_result->mutable_scheduler();
  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_EJECTED);
  s->set_exit_kind_text("runnable task stall");
  s->set_exit_kind(ktstr::v1::SCHED_EXIT_KIND_STALL);
  s->set_exit_detail("scx_fifo: stress[12] failed to run for 7.5s");
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_SCHED_EJECTED);
  EXPECT_EQ(v.reason(),
            "scheduler ejected: runnable task stall: scx_fifo: stress[12] failed to run for 7.5s");
  EXPECT_EQ(v.scheduler().exit_reason(), "runnable task stall");
  EXPECT_EQ(v.scheduler().exit_kind(), ktstr::v1::SCHED_EXIT_KIND_STALL);

  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_DIED);
  s->set_exit_code(-1);
  s->set_signal(9);
  EXPECT_EQ(MergeVerdict(in).kind(), ktstr::v1::VERDICT_KIND_SCHED_DIED);
  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_NOT_ATTACHED);
  EXPECT_EQ(MergeVerdict(in).kind(), ktstr::v1::VERDICT_KIND_SCHED_NOT_ATTACHED);
}

// Every SchedulerReport state maps to its verdict kind (sched_ext-facts.md); an ejection
// names its exit kind even when the kernel's reason text did not reach the agent.
TEST(MergeVerdict, SchedulerStatesMapToVerdictKinds) {
  VerdictInputs in;
  in.agent_result = Report(ktstr::v1::TEST_OUTCOME_FAIL, "scheduler died during the test");
  auto* s = in.agent_result->mutable_scheduler();
  s->set_ops_name("scx_fifo");

  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_DIED);
  s->set_exit_code(3);
  s->set_exit_detail("loader exited with status 3 before attaching");
  s->set_log("scx_fifo: exiting at once with status 3");
  auto died = MergeVerdict(in);
  EXPECT_EQ(died.kind(), ktstr::v1::VERDICT_KIND_SCHED_DIED);
  EXPECT_EQ(died.reason(),
            "scheduler died (exit code 3): loader exited with status 3 before attaching");
  EXPECT_EQ(died.scheduler().process_exit_code(), 3);
  EXPECT_EQ(died.scheduler().log_excerpt(), "scx_fifo: exiting at once with status 3");

  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_NOT_ATTACHED);
  s->set_exit_code(1);
  s->set_exit_detail("verifier rejected the scheduler: R1 invalid mem access 'scalar'");
  auto na = MergeVerdict(in);
  EXPECT_EQ(na.kind(), ktstr::v1::VERDICT_KIND_SCHED_NOT_ATTACHED);
  EXPECT_EQ(na.reason(), "scheduler never attached: verifier rejected the scheduler: R1 invalid "
                         "mem access 'scalar'");

  struct Case {
    ktstr::v1::SchedExitKind kind;
    const char* words;
  };
  for (const Case& c : {Case{ktstr::v1::SCHED_EXIT_KIND_STALL, "runnable task stall"},
                        Case{ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR, "scx_bpf_error"},
                        Case{ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR, "runtime error"},
                        Case{ktstr::v1::SCHED_EXIT_KIND_SYSRQ, "disabled by sysrq-S"},
                        Case{ktstr::v1::SCHED_EXIT_KIND_OTHER, "unknown exit"}}) {
    s->set_state(ktstr::agent::v1::SCHEDULER_STATE_EJECTED);
    s->set_exit_kind(c.kind);
    s->set_exit_kind_text("");
    s->set_exit_detail("");
    auto ej = MergeVerdict(in);
    EXPECT_EQ(ej.kind(), ktstr::v1::VERDICT_KIND_SCHED_EJECTED) << c.words;
    EXPECT_EQ(ej.reason(), absl::StrCat("scheduler ejected: ", c.words));
    EXPECT_EQ(ej.scheduler().exit_kind(), c.kind);
  }

  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_SCHED_EXT_ABSENT);
  s->set_exit_detail("/sys/kernel/sched_ext is missing");
  auto skip = MergeVerdict(in);
  EXPECT_EQ(skip.kind(), ktstr::v1::VERDICT_KIND_SKIP);
  EXPECT_EQ(skip.reason(), "skipped: kernel has no sched_ext (/sys/kernel/sched_ext is missing)");

  // Attached to the end: the test's own outcome decides, and the scheduler is recorded.
  s->set_state(ktstr::agent::v1::SCHEDULER_STATE_RAN);
  s->set_exit_kind(ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED);
  auto fail = MergeVerdict(in);
  EXPECT_EQ(fail.kind(), ktstr::v1::VERDICT_KIND_FAIL);
  EXPECT_EQ(fail.scheduler().name(), "scx_fifo");
}

TEST(MergeVerdict, InfraErrorsAreNamed) {
  VerdictInputs in;
  in.infra_error = "VM boot failed: timeout";
  auto v = MergeVerdict(in);
  EXPECT_EQ(v.kind(), ktstr::v1::VERDICT_KIND_INFRA_ERROR);
  EXPECT_EQ(v.reason(), "VM boot failed: timeout");

  VerdictInputs lost;
  EXPECT_EQ(MergeVerdict(lost).reason(), "the guest agent gave no result");

  VerdictInputs noreport;
  noreport.agent_result.emplace();
  noreport.agent_result->mutable_process()->set_exit_code(3);
  noreport.agent_result->set_error("test not found");
  auto nr = MergeVerdict(noreport);
  EXPECT_EQ(nr.kind(), ktstr::v1::VERDICT_KIND_INFRA_ERROR);
  EXPECT_EQ(nr.reason(), "test produced no report: test not found (exited with code 3)");
}

}  // namespace
}  // namespace ktstr::daemon
