#include "daemon/verdict.h"

#include "absl/strings/str_cat.h"

namespace ktstr::daemon {
namespace {

using ktstr::agent::v1::SchedulerReport;
using ktstr::agent::v1::TestResult;
using ktstr::v1::Verdict;
using ktstr::v1::VerdictKind;

const char* CrashKindText(ktstr::v1::CrashKind k) {
  switch (k) {
    case ktstr::v1::CRASH_KIND_PANIC: return "kernel panic";
    case ktstr::v1::CRASH_KIND_OOPS: return "kernel Oops";
    case ktstr::v1::CRASH_KIND_BUG: return "kernel BUG";
    case ktstr::v1::CRASH_KIND_WARNING: return "kernel WARNING";
    case ktstr::v1::CRASH_KIND_GPF: return "general protection fault";
    case ktstr::v1::CRASH_KIND_RCU_STALL: return "RCU stall";
    case ktstr::v1::CRASH_KIND_SOFT_LOCKUP: return "soft lockup";
    case ktstr::v1::CRASH_KIND_HARD_LOCKUP: return "hard lockup";
    case ktstr::v1::CRASH_KIND_HUNG_TASK: return "hung task";
    default: return "kernel crash";
  }
}

Verdict Make(VerdictKind kind, std::string reason, const VerdictInputs& in) {
  Verdict v;
  v.set_kind(kind);
  v.set_reason(std::move(reason));
  v.set_console_excerpt(in.crash ? in.crash->excerpt : in.console_tail);
  if (in.crash) v.set_crash_kind(in.crash->kind);
  if (in.agent_result && in.agent_result->has_report()) {
    *v.mutable_report() = in.agent_result->report();
  }
  return v;
}

void FillScheduler(const TestResult& r, Verdict* v) {
  if (!r.has_scheduler()) return;
  const SchedulerReport& s = r.scheduler();
  if (s.state() == ktstr::agent::v1::SCHEDULER_STATE_NONE ||
      s.state() == ktstr::agent::v1::SCHEDULER_STATE_UNSPECIFIED) {
    return;
  }
  auto* o = v->mutable_scheduler();
  o->set_name(s.ops_name());
  o->set_exit_kind(s.exit_kind());
  o->set_exit_reason(s.exit_kind_text());
  o->set_exit_detail(s.exit_detail());
  o->set_process_exit_code(s.exit_code());
  o->set_process_signal(s.signal());
  o->set_log_excerpt(s.log());
}

// The exit kind in words when the kernel's reason text is missing (e.g. the agent saw the
// state change but no log line): an ejection verdict always names its kind.
const char* ExitKindWords(ktstr::v1::SchedExitKind k) {
  switch (k) {
    case ktstr::v1::SCHED_EXIT_KIND_STALL: return "runnable task stall";
    case ktstr::v1::SCHED_EXIT_KIND_SCX_BPF_ERROR: return "scx_bpf_error";
    case ktstr::v1::SCHED_EXIT_KIND_RUNTIME_ERROR: return "runtime error";
    case ktstr::v1::SCHED_EXIT_KIND_SYSRQ: return "disabled by sysrq-S";
    case ktstr::v1::SCHED_EXIT_KIND_UNREGISTERED: return "unregistered from user space";
    case ktstr::v1::SCHED_EXIT_KIND_OTHER: return "unknown exit";
    default: return "";
  }
}

// The scheduler's fate as a verdict, if it decides the job.
std::optional<Verdict> SchedulerVerdict(const VerdictInputs& in) {
  const SchedulerReport& s = in.agent_result->scheduler();
  std::string detail = s.exit_kind_text();
  if (detail.empty() && s.state() == ktstr::agent::v1::SCHEDULER_STATE_EJECTED) {
    detail = ExitKindWords(s.exit_kind());
  }
  if (!s.exit_detail().empty()) absl::StrAppend(&detail, detail.empty() ? "" : ": ", s.exit_detail());
  switch (s.state()) {
    case ktstr::agent::v1::SCHEDULER_STATE_DIED:
      return Make(ktstr::v1::VERDICT_KIND_SCHED_DIED,
                  absl::StrCat("scheduler died (exit code ", s.exit_code(),
                               s.signal() ? absl::StrCat(", signal ", s.signal()) : "", ")",
                               detail.empty() ? "" : ": ", detail),
                  in);
    case ktstr::agent::v1::SCHEDULER_STATE_NOT_ATTACHED:
      return Make(ktstr::v1::VERDICT_KIND_SCHED_NOT_ATTACHED,
                  absl::StrCat("scheduler never attached",
                               detail.empty() ? "" : ": ", detail), in);
    case ktstr::agent::v1::SCHEDULER_STATE_EJECTED:
      return Make(ktstr::v1::VERDICT_KIND_SCHED_EJECTED,
                  absl::StrCat("scheduler ejected", detail.empty() ? "" : ": ", detail), in);
    case ktstr::agent::v1::SCHEDULER_STATE_SCHED_EXT_ABSENT:
      return Make(ktstr::v1::VERDICT_KIND_SKIP,
                  absl::StrCat("skipped: kernel has no sched_ext",
                               s.exit_detail().empty() ? "" : " (", s.exit_detail(),
                               s.exit_detail().empty() ? "" : ")"),
                  in);
    default:
      return std::nullopt;
  }
}

Verdict ReportVerdict(const VerdictInputs& in) {
  const TestResult& r = *in.agent_result;
  const auto& rep = r.report();
  std::string first_detail = rep.details_size() > 0 ? rep.details(0).message() : "";
  switch (rep.outcome()) {
    case ktstr::v1::TEST_OUTCOME_PASS: {
      Verdict v = Make(ktstr::v1::VERDICT_KIND_PASS, "", in);
      if (!in.crash) v.clear_console_excerpt();
      return v;
    }
    case ktstr::v1::TEST_OUTCOME_SKIP:
      return Make(ktstr::v1::VERDICT_KIND_SKIP,
                  first_detail.empty() ? "skipped" : absl::StrCat("skipped: ", first_detail), in);
    case ktstr::v1::TEST_OUTCOME_FAIL:
      return Make(ktstr::v1::VERDICT_KIND_FAIL,
                  first_detail.empty() ? "test checks failed" : first_detail, in);
    default:
      return Make(ktstr::v1::VERDICT_KIND_INFRA_ERROR,
                  "test report has no outcome (test library mismatch?)", in);
  }
}

Verdict NoReportVerdict(const VerdictInputs& in) {
  const TestResult& r = *in.agent_result;
  const auto& p = r.process();
  if (p.timed_out()) {
    return Make(ktstr::v1::VERDICT_KIND_TIMEOUT, "timed out (test process killed in the guest)",
                in);
  }
  std::string how = p.signal() != 0 ? absl::StrCat("killed by signal ", p.signal())
                                    : absl::StrCat("exited with code ", p.exit_code());
  if (p.signal() == 0 && p.exit_code() == 2) {
    return Make(ktstr::v1::VERDICT_KIND_SKIP, "skipped (exit code 2, no report)", in);
  }
  return Make(ktstr::v1::VERDICT_KIND_INFRA_ERROR,
              absl::StrCat("test produced no report: ", r.error().empty() ? how : r.error(),
                           r.error().empty() ? "" : absl::StrCat(" (", how, ")")),
              in);
}

}  // namespace

bool IsFatalCrash(ktstr::v1::CrashKind kind) {
  return kind != ktstr::v1::CRASH_KIND_UNSPECIFIED && kind != ktstr::v1::CRASH_KIND_WARNING;
}

ktstr::v1::Verdict MergeVerdict(const VerdictInputs& in) {
  switch (in.abort) {
    case AbortReason::kCancelled:
      return Make(ktstr::v1::VERDICT_KIND_CANCELLED, "cancelled", in);
    case AbortReason::kShutdown:
      return Make(ktstr::v1::VERDICT_KIND_INTERRUPTED, "interrupted: the daemon stopped", in);
    default:
      break;
  }
  if (in.crash && IsFatalCrash(in.crash->kind)) {
    std::string reason = CrashKindText(in.crash->kind);
    if (!in.crash->headline.empty()) absl::StrAppend(&reason, ": ", in.crash->headline);
    Verdict v = Make(ktstr::v1::VERDICT_KIND_VM_CRASH, reason, in);
    if (in.agent_result) FillScheduler(*in.agent_result, &v);
    return v;
  }
  if (in.abort == AbortReason::kTimeout) {
    return Make(ktstr::v1::VERDICT_KIND_TIMEOUT,
                in.timeout_s > 0 ? absl::StrCat("timed out after ", in.timeout_s, "s")
                                 : "timed out",
                in);
  }
  if (!in.infra_error.empty() || !in.agent_result) {
    return Make(ktstr::v1::VERDICT_KIND_INFRA_ERROR,
                in.infra_error.empty() ? "the guest agent gave no result" : in.infra_error, in);
  }
  Verdict v;
  if (std::optional<Verdict> s = SchedulerVerdict(in); s) {
    v = *s;
  } else if (in.agent_result->has_report()) {
    v = ReportVerdict(in);
  } else {
    v = NoReportVerdict(in);
  }
  FillScheduler(*in.agent_result, &v);
  return v;
}


}  // namespace ktstr::daemon
