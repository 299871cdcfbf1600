#include "guest_agent/testlib/test_attrs.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr {
namespace {

absl::Status Bad(const std::string& test, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("test '", test, "': ", what));
}

template <typename T>
absl::Status Positive(const std::string& test, const char* name, const std::optional<T>& v) {
  if (v.has_value() && !(*v > 0)) {
    return Bad(test, absl::StrCat(name, " must be > 0 (got ", *v, ")"));
  }
  return absl::OkStatus();
}

absl::Status NonNegative(const std::string& test, const char* name,
                         const std::optional<double>& v) {
  if (v.has_value() && !(std::isfinite(*v) && *v >= 0)) {
    return Bad(test, absl::StrCat(name, " must be a finite value >= 0 (got ", *v, ")"));
  }
  return absl::OkStatus();
}

absl::Status MinMax(const std::string& test, const char* what, uint32_t lo, uint32_t hi) {
  if (lo > hi) return Bad(test, absl::StrFormat("min_%s (%d) > max_%s (%d)", what, lo, what, hi));
  return absl::OkStatus();
}

}  // namespace

Assert TestAttrs::checks() const {
  Assert a;
  a.not_starved = not_starved;
  a.isolation = isolation;
  a.max_gap_ms = max_gap_ms;
  a.max_spread_pct = max_spread_pct;
  a.max_throughput_cv = max_throughput_cv;
  a.min_work_rate = min_work_rate;
  a.max_p99_wake_latency_ns = max_p99_wake_latency_ns;
  a.max_wake_latency_cv = max_wake_latency_cv;
  a.min_iteration_rate = min_iteration_rate;
  a.max_migration_ratio = max_migration_ratio;
  a.max_imbalance_ratio = max_imbalance_ratio;
  a.max_local_dsq_depth = max_local_dsq_depth;
  a.fail_on_stall = fail_on_stall;
  a.sustained_samples = sustained_samples;
  a.max_fallback_rate = max_fallback_rate;
  a.max_keep_last_rate = max_keep_last_rate;
  a.min_page_locality = min_page_locality;
  a.max_cross_node_migration_ratio = max_cross_node_migration_ratio;
  a.max_slow_tier_ratio = max_slow_tier_ratio;
  return a;
}

absl::Status ValidateTestAttrs(const std::string& test, const TestAttrs& a) {
  if (test.empty()) return absl::InvalidArgumentError("a test needs a name");
  for (absl::Status s :
       {Positive(test, "numa_nodes", a.numa_nodes),
        Positive(test, "llcs", a.llcs),
        Positive(test, "cores", a.cores),
        Positive(test, "threads", a.threads),
        Positive(test, "memory_mb", a.memory_mb),
        Positive(test, "duration_s", a.duration_s),
        Positive(test, "workers_per_cgroup", a.workers_per_cgroup),
        Positive(test, "watchdog_timeout_s", a.watchdog_timeout_s),
        Positive(test, "min_numa_nodes", a.min_numa_nodes),
        Positive(test, "max_numa_nodes", a.max_numa_nodes),
        Positive(test, "min_llcs", a.min_llcs),
        Positive(test, "max_llcs", a.max_llcs),
        Positive(test, "min_cpus", a.min_cpus),
        Positive(test, "max_cpus", a.max_cpus),
        Positive(test, "cleanup_budget_ms", a.cleanup_budget_ms),
        Positive(test, "max_gap_ms", a.max_gap_ms),
        Positive(test, "max_p99_wake_latency_ns", a.max_p99_wake_latency_ns),
        Positive(test, "sustained_samples", a.sustained_samples),
        NonNegative(test, "max_spread_pct", a.max_spread_pct),
        NonNegative(test, "max_throughput_cv", a.max_throughput_cv),
        NonNegative(test, "min_work_rate", a.min_work_rate),
        NonNegative(test, "max_wake_latency_cv", a.max_wake_latency_cv),
        NonNegative(test, "min_iteration_rate", a.min_iteration_rate),
        NonNegative(test, "max_migration_ratio", a.max_migration_ratio),
        NonNegative(test, "max_imbalance_ratio", a.max_imbalance_ratio),
        NonNegative(test, "max_fallback_rate", a.max_fallback_rate),
        NonNegative(test, "max_keep_last_rate", a.max_keep_last_rate),
        NonNegative(test, "min_page_locality", a.min_page_locality),
        NonNegative(test, "max_cross_node_migration_ratio", a.max_cross_node_migration_ratio),
        NonNegative(test, "max_slow_tier_ratio", a.max_slow_tier_ratio)}) {
    if (!s.ok()) return s;
  }
  if (a.numa_nodes && a.llcs && *a.llcs % *a.numa_nodes != 0) {
    return Bad(test, absl::StrFormat("llcs (%d) must be a multiple of numa_nodes (%d)", *a.llcs,
                                     *a.numa_nodes));
  }
  if (a.duration_s && *a.duration_s > config::kMaxDurationS) {
    return Bad(test,
               absl::StrFormat("duration_s %d exceeds %d", *a.duration_s, config::kMaxDurationS));
  }
  if (a.max_spread_pct && *a.max_spread_pct > 100) {
    return Bad(test, "max_spread_pct is a percentage (0..100)");
  }
  if (a.min_page_locality && *a.min_page_locality > 1) {
    return Bad(test, "min_page_locality is a fraction (0..1)");
  }
  for (const std::string& f : a.required_flags) {
    for (const std::string& e : a.excluded_flags) {
      if (f == e) return Bad(test, absl::StrCat("flag '", f, "' is both required and excluded"));
    }
  }
  if (a.scheduler == nullptr && (!a.required_flags.empty() || !a.extra_sched_args.empty())) {
    return Bad(test, "required_flags / extra_sched_args need a .scheduler");
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedAttrs> ResolveAttrs(const std::string& test, const TestAttrs& a) {
  if (absl::Status s = ValidateTestAttrs(test, a); !s.ok()) return s;
  ResolvedAttrs r;
  const SchedulerDef& sched = a.scheduler ? *a.scheduler : kEevdf;
  r.scheduler = &sched;
  r.numa_nodes = a.numa_nodes.value_or(sched.topology.numa_nodes);
  r.llcs = a.llcs.value_or(sched.topology.llcs);
  r.cores = a.cores.value_or(sched.topology.cores);
  r.threads = a.threads.value_or(sched.topology.threads);
  if (r.numa_nodes == 0 || r.llcs == 0 || r.cores == 0 || r.threads == 0) {
    return Bad(test, absl::StrCat("scheduler '", sched.name, "' has a zero topology default"));
  }
  if (r.llcs % r.numa_nodes != 0) {
    return Bad(test, absl::StrFormat("llcs (%d) must be a multiple of numa_nodes (%d)", r.llcs,
                                     r.numa_nodes));
  }
  r.memory_mb = a.memory_mb.value_or(config::kDefaultMemoryMb);
  r.duration_s = a.duration_s.value_or(config::kDefaultDurationS);
  r.workers_per_cgroup = a.workers_per_cgroup.value_or(config::kDefaultWorkersPerCgroup);
  r.watchdog_timeout_s = a.watchdog_timeout_s.value_or(config::kDefaultWatchdogTimeoutS);
  r.extra_sched_args = a.extra_sched_args;
  r.required_flags = a.required_flags;
  r.excluded_flags = a.excluded_flags;
  const TopologyConstraints& c = sched.constraints;
  r.min_numa_nodes =
      a.min_numa_nodes.value_or(c.min_numa_nodes.value_or(config::kDefaultMinNumaNodes));
  r.max_numa_nodes =
      a.max_numa_nodes.value_or(c.max_numa_nodes.value_or(config::kDefaultMaxNumaNodes));
  r.min_llcs = a.min_llcs.value_or(c.min_llcs.value_or(config::kDefaultMinLlcs));
  r.max_llcs = a.max_llcs.value_or(c.max_llcs.value_or(config::kDefaultMaxLlcs));
  r.min_cpus = a.min_cpus.value_or(c.min_cpus.value_or(config::kDefaultMinCpus));
  r.max_cpus = a.max_cpus.value_or(c.max_cpus.value_or(config::kDefaultMaxCpus));
  r.requires_smt = a.requires_smt.value_or(c.requires_smt.value_or(false));
  for (absl::Status s : {MinMax(test, "numa_nodes", r.min_numa_nodes, r.max_numa_nodes),
                         MinMax(test, "llcs", r.min_llcs, r.max_llcs),
                         MinMax(test, "cpus", r.min_cpus, r.max_cpus)}) {
    if (!s.ok()) return s;
  }
  // The base topology must be one the gauntlet constraints allow, or no variant could run.
  if (r.numa_nodes > r.max_numa_nodes && !a.max_numa_nodes && !c.max_numa_nodes) {
    r.max_numa_nodes = r.numa_nodes;  // an explicit multi-node test widens the default max
  }
  if (r.numa_nodes < r.min_numa_nodes || r.numa_nodes > r.max_numa_nodes || r.llcs < r.min_llcs ||
      r.llcs > r.max_llcs || r.total_cpus() < r.min_cpus || r.total_cpus() > r.max_cpus ||
      (r.requires_smt && r.threads < 2)) {
    return Bad(
        test,
        absl::StrFormat(
            "topology %dn%dl%dc%dt (%d cpus) violates its constraints (numa %d..%d, llcs %d..%d, "
            "cpus %d..%d%s)",
            r.numa_nodes, r.llcs, r.cores, r.threads, r.total_cpus(), r.min_numa_nodes,
            r.max_numa_nodes, r.min_llcs, r.max_llcs, r.min_cpus, r.max_cpus,
            r.requires_smt ? ", smt required" : ""));
  }
  absl::StatusOr<std::vector<std::vector<std::string>>> profiles =
      FlagProfiles(sched, r.required_flags, r.excluded_flags);
  if (!profiles.ok()) return Bad(test, std::string(profiles.status().message()));
  r.flag_profiles = *std::move(profiles);
  r.expect_err = a.expect_err;
  r.auto_repro = a.auto_repro && !a.expect_err;  // ktstr: expect_err disables auto-repro
  r.performance_mode = a.performance_mode;
  r.host_only = a.host_only;
  r.cleanup_budget_ms = a.cleanup_budget_ms;
  r.checks = Assert::DefaultChecks().MergedWith(sched.checks).MergedWith(a.checks());
  return r;
}

}  // namespace ktstr
