#include "daemon/testing/fake_executor.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/testing/fake_shell_vm.h"

namespace ktstr::daemon {

absl::StatusOr<std::unique_ptr<ShellVm>> FakeExecutor::StartShellVm(const ShellVmRequest&,
                                                                    AbortSignal&) {
  return MakeFakeShellVm(absl::StrCat("fake-shell-", shells_.fetch_add(1)), &running_);
}

ExecutionOutcome FakeExecutor::Execute(const JobRequest& req, const JobProgress& progress,
                                       AbortSignal& abort) {
  int n = executed_.fetch_add(1);
  uint32_t now_running = running_.fetch_add(1) + 1;
  int prev = max_concurrent_.load();
  while (static_cast<int>(now_running) > prev &&
         !max_concurrent_.compare_exchange_weak(prev, now_running)) {
  }
  const std::string& name = req.spec.test_name();
  ExecutionOutcome out;
  progress.vm_assigned(absl::StrCat("fake-", n), n > 0, 0.001);
  progress.started();
  progress.output(ktstr::v1::JobOutput::STREAM_STDOUT, absl::StrCat("fake: running ", name));
  if (absl::StrContains(name, "hang")) {
    abort.WaitFor(absl::Hours(1));
    out.console_tail = "fake console: test hung";
  } else if (absl::StrContains(name, "panic")) {
    CrashObservation c;
    c.kind = ktstr::v1::CRASH_KIND_PANIC;
    c.headline = "Kernel panic - not syncing: sysrq triggered crash";
    c.excerpt = "[   3.1] sysrq: Trigger a crash\n[   3.1] " + c.headline;
    out.crash = c;
  } else if (!abort.WaitFor(pass_delay_)) {
    ktstr::agent::v1::TestResult r;
    r.mutable_process()->set_exit_code(0);
    auto* rep = r.mutable_report();
    rep->set_test_name(name);
    rep->set_duration_s(absl::ToDoubleSeconds(pass_delay_));
    rep->set_scheduler_name("eevdf");
    auto* cg = rep->mutable_stats()->add_cgroups();
    cg->set_name("cg_0");
    cg->set_workers(2);
    cg->set_cpus_used(2);
    cg->set_spread_pct(3.5);
    cg->set_total_iterations(1000);
    rep->set_stats_text("2 workers, 2 cpus, 0 migrations, worst_spread=3.5%, worst_gap=10ms\n"
                        "  cg_0: workers=2 cpus=2 spread=3.5% gap=10ms migrations=0"
                        " iterations=1000");
    auto* m = rep->add_metrics();
    m->set_name("worst_spread");
    m->set_value(3.5);
    m->set_unit("%");
    if (absl::StrContains(name, "fail")) {
      rep->set_outcome(ktstr::v1::TEST_OUTCOME_FAIL);
      auto* d = rep->add_details();
      d->set_kind(ktstr::v1::DETAIL_KIND_STUCK);
      d->set_message("stuck 3500ms on cpu1 at +1200ms");
      d->set_cgroup("cg_0");
      r.mutable_process()->set_exit_code(1);
    } else if (absl::StrContains(name, "skip")) {
      rep->set_outcome(ktstr::v1::TEST_OUTCOME_SKIP);
      auto* d = rep->add_details();
      d->set_kind(ktstr::v1::DETAIL_KIND_SKIP);
      d->set_message("needs 2 NUMA nodes");
      r.mutable_process()->set_exit_code(2);
    } else if (absl::StrContains(name, "noreport")) {
      r.clear_report();
      r.mutable_process()->set_exit_code(3);
      r.set_error("harness error: test not found");
    } else {
      rep->set_outcome(ktstr::v1::TEST_OUTCOME_PASS);
    }
    out.agent_result = r;
  }
  running_.fetch_sub(1);
  return out;
}

}  // namespace ktstr::daemon
