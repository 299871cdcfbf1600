// `ktstr-client gauntlet BINARY...`: every selected test on every topology preset its gauntlet
// constraints allow (and the vCPU cap fits) × its scheduler's flag profiles × kernels, in one
// run; per-job lines as `test` prints them, then a test/profile × preset matrix and the
// summary. The expansion is client/gauntlet_plan.h; --dry-run prints it without a daemon
// (when --max-vcpus is given).
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/arg_reader.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/gauntlet_budget.h"
#include "client/gauntlet_matrix.h"
#include "client/gauntlet_plan.h"
#include "client/job_builder.h"
#include "client/listed_tests.h"
#include "client/run_session.h"
#include "client/scheduler_binary.h"

namespace ktstr::client {
namespace {

struct GauntletOptions : SharedRunOptions {
  std::vector<std::string> binaries;
  GauntletSelection selection;
  bool max_vcpus_given = false;
  bool dry_run = false;
  double budget_s = 0;  // --budget / KTSTR_BUDGET_SECS; 0 = every variant
};

// "a,b" -> {a, b}; "all" -> {} (no restriction). Empty items are an error.
absl::StatusOr<std::vector<std::string>> NameList(const char* option, const std::string& v) {
  if (v == "all") return std::vector<std::string>{};
  std::vector<std::string> names = absl::StrSplit(v, ',');
  for (const std::string& n : names) {
    if (n.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(option, " takes NAME,NAME... or all"));
    }
  }
  return names;
}

absl::StatusOr<GauntletOptions> ParseArgs(const Args& args) {
  GauntletOptions o;
  ArgReader r(args);
  std::string v;
  absl::Status bad;
  while (r.Next() && r.status().ok() && bad.ok()) {
    const std::string& a = r.arg();
    if (ParseSharedRunOption(r, &o, &bad)) {
      // -E, --duration, --label, --json, --junit, -v
    } else if (r.Option("--presets", &v) || r.Option("--profiles", &v)) {
      const bool presets = absl::StartsWith(a, "--presets");
      absl::StatusOr<std::vector<std::string>> names =
          NameList(presets ? "--presets" : "--profiles", v);
      if (!r.status().ok()) break;
      if (!names.ok()) return names.status();
      (presets ? o.selection.presets : o.selection.profiles) = *std::move(names);
    } else if (r.Option("--kernel", &v)) {
      if (!v.empty()) o.selection.kernels.push_back(v);
    } else if (r.Option("--max-vcpus", &v)) {
      if (r.status().ok() && (!absl::SimpleAtoi(v, &o.selection.max_vcpus) ||
                              o.selection.max_vcpus == 0)) {
        return absl::InvalidArgumentError("--max-vcpus takes a positive number of vCPUs");
      }
      o.max_vcpus_given = true;
    } else if (r.Option("--budget", &v)) {
      if (r.status().ok() && (!absl::SimpleAtod(v, &o.budget_s) || !(o.budget_s > 0))) {
        return absl::InvalidArgumentError("--budget takes a positive number of seconds");
      }
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (absl::StartsWith(a, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a, " (see --help)"));
    } else {
      o.binaries.push_back(a);
    }
  }
  if (!r.status().ok()) return r.status();
  if (!bad.ok()) return bad;
  if (const char* env = getenv("KTSTR_BUDGET_SECS"); env != nullptr && o.budget_s == 0) {
    if (!absl::SimpleAtod(env, &o.budget_s) || !(o.budget_s > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("KTSTR_BUDGET_SECS='", env, "' is not a positive number of seconds"));
    }
  }
  o.selection.filter = o.filter;
  if (o.binaries.empty()) {
    return absl::InvalidArgumentError(
        "usage: ktstr-client gauntlet BINARY... [-E FILTER] [--presets NAME,...|all] "
        "[--profiles NAME,...|all] [--kernel K]... [--max-vcpus N] [--budget SECS] [--label K=V] "
        "[--dry-run] (see --help)");
  }
  return o;
}

// The daemon's vCPU budget: like ktstr, a VM never gets more vCPUs than the host gives.
absl::StatusOr<uint32_t> DaemonVcpuBudget(Connection& conn) {
  ktstr::v1::GetPoolStatusResponse pools;
  if (absl::Status s = FromGrpc(conn.stub->GetPoolStatus(
          ContextWithDeadline().get(), ktstr::v1::GetPoolStatusRequest(), &pools));
      !s.ok()) {
    return s;
  }
  return pools.vcpu_budget();
}

// A test's memory floor on a preset: vmm wants an equal share per node, and at least its
// per-node minimum (0 stays 0: the daemon sizes the VM).
uint32_t MemoryFor(uint32_t memory_mb, const ktstr::v1::Topology& t) {
  if (memory_mb == 0) return 0;
  const uint32_t nodes = std::max(1u, t.numa_nodes());
  memory_mb = std::max(memory_mb, nodes * vmm::config::kMinMemoryMbPerNode);
  return (memory_mb + nodes - 1) / nodes * nodes;
}

// One line on stderr for what the gauntlet leaves out, so nothing is dropped silently.
std::string SkipNote(const GauntletPlan& plan, uint32_t cap) {
  std::string note;
  if (!plan.over_cap.empty()) {
    absl::StrAppend(&note, "[ktstr-client] gauntlet: ", plan.over_cap_variants,
                    " variants skipped on ", plan.over_cap.size(), " presets over the ", cap,
                    "-vCPU cap (", absl::StrJoin(plan.over_cap, ", "), "; --max-vcpus N)\n");
  }
  if (!plan.constraint_skips.empty()) {
    absl::StrAppend(&note, "[ktstr-client] gauntlet: ", plan.constraint_skips.size(),
                    " test x preset pairs outside the tests' constraints (--dry-run lists them)\n");
  }
  if (!plan.host_only.empty()) {
    absl::StrAppend(&note, "[ktstr-client] gauntlet: host-only, not expanded: ",
                    absl::StrJoin(plan.host_only, ", "), "\n");
  }
  return note;
}

int Usage(const absl::Status& s) {
  fprintf(stderr, "ktstr-client gauntlet: %s\n", std::string(s.message()).c_str());
  return kExitUsage;
}

}  // namespace

int GauntletCommand(const ConnectOptions& conn_opts, const Args& args) {
  absl::StatusOr<GauntletOptions> o = ParseArgs(args);
  if (!o.ok()) return Usage(o.status());
  const absl::Time t0 = absl::Now();
  std::vector<GauntletBinary> binaries;
  for (const std::string& path : o->binaries) {
    absl::StatusOr<ktstr::v1::TestList> list = ListTests(path);
    if (!list.ok()) return Fail(list.status());
    binaries.push_back({path, *std::move(list)});
  }
  std::optional<Connection> conn;
  if (!o->dry_run || !o->max_vcpus_given) {
    absl::StatusOr<Connection> c = Connect(conn_opts);
    if (!c.ok()) return Fail(c.status());
    conn = *std::move(c);
  }
  if (!o->max_vcpus_given) {
    absl::StatusOr<uint32_t> budget = DaemonVcpuBudget(*conn);
    if (!budget.ok()) return Fail(budget.status());
    o->selection.max_vcpus = *budget;
  }
  absl::StatusOr<GauntletPlan> plan = PlanGauntlet(binaries, o->selection);
  if (!plan.ok()) return Usage(plan.status());
  if (plan->tests_selected == 0) {
    return Usage(absl::InvalidArgumentError(absl::StrCat(
        "no test matches", o->selection.filter.empty() ? "" : " -E " + o->selection.filter)));
  }
  if (o->budget_s > 0) {
    // The time budget keeps the variants that cover the most configurations per second.
    const size_t all = plan->variants.size();
    BudgetSelection sel = SelectWithinBudget(plan->variants, o->budget_s);
    std::vector<GauntletVariant> kept;
    for (size_t i : sel.chosen) kept.push_back(plan->variants[i]);
    plan->variants = std::move(kept);
    fprintf(stderr, "%s\n", sel.Summary(all, o->budget_s).c_str());
  }
  const std::string cap_source = o->max_vcpus_given ? "--max-vcpus" : "the daemon's vCPU budget";
  if (o->dry_run && o->output.json) {
    fputs(FormatPlanJson(*plan, binaries, o->selection).c_str(), stdout);
    return kExitOk;
  }
  if (o->dry_run) {
    printf("vCPU cap: %u (%s)\n%s", o->selection.max_vcpus, cap_source.c_str(),
           FormatPlan(*plan, binaries, o->selection).c_str());
    return kExitOk;
  }
  if (plan->variants.empty()) {
    fprintf(stderr, "vCPU cap: %u (%s)\n%sktstr-client gauntlet: nothing to run\n",
            o->selection.max_vcpus, cap_source.c_str(),
            FormatPlan(*plan, binaries, o->selection).c_str());
    return kExitUsage;
  }
  const std::string note = SkipNote(*plan, o->selection.max_vcpus);
  if (!o->output.json) fputs(note.c_str(), stderr);

  ktstr::v1::SubmitRunRequest req;
  ktstr::v1::RunSpec* spec = req.mutable_spec();
  spec->set_description(absl::StrCat("ktstr-client gauntlet ", absl::StrJoin(args, " ")));
  (*spec->mutable_labels())["gauntlet"] = "1";
  const char* sched_path_env = getenv(config::kSchedulerPathEnv);
  JobBuilder builder(conn->stub.get(), sched_path_env ? sched_path_env : "");
  for (const GauntletVariant& v : plan->variants) {
    absl::StatusOr<ktstr::v1::JobSpec> job =
        builder.Build(binaries[v.binary].path, *v.test,
                      {.topology = &v.topology, .profile = v.profile, .kernel = v.kernel,
                       .duration_s = o->duration_s});
    if (!job.ok()) return Fail(job.status());
    job->mutable_shape()->set_memory_mb(MemoryFor(v.test->memory_mb(), v.topology));
    auto& labels = *job->mutable_labels();
    // The gauntlet's own labels (set below) win over a --label of the same key.
    for (const auto& [k, val] : o->labels) labels[k] = val;
    labels["gauntlet"] = "1";
    labels["preset"] = v.preset;
    labels["profile"] = v.profile_name();
    if (plan->several_kernels) labels["kernel"] = v.kernel;
    *spec->add_jobs() = *std::move(job);
  }
  absl::StatusOr<ktstr::v1::Run> run = SubmitAndFollow(*conn, std::move(req), o->output);
  if (!run.ok()) return Fail(run.status());
  return FinishRun(*run, o->output, absl::ToDoubleSeconds(absl::Now() - t0),
                   Basename(o->binaries[0]), absl::StrCat("\n", FormatGauntletMatrix(*run), note));
}

}  // namespace ktstr::client
