#include "guest_agent/testlib/checks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "guest_agent/testlib/stats.h"

namespace ktstr {
namespace {

template <typename T>
void Over(std::optional<T>& mine, const std::optional<T>& theirs) {
  if (theirs.has_value()) mine = theirs;
}

template <typename T>
void Line(std::vector<std::string>& out, const char* name, const std::optional<T>& v) {
  if (!v.has_value()) return;
  if constexpr (std::is_same_v<T, bool>) {
    out.push_back(absl::StrCat(name, "=", *v ? "true" : "false"));
  } else {
    out.push_back(absl::StrCat(name, "=", *v));
  }
}

double OffCpuPct(const WorkerReport& r) {
  return r.wall_time_ns == 0
             ? 0
             : 100.0 * static_cast<double>(r.off_cpu_ns) / static_cast<double>(r.wall_time_ns);
}

}  // namespace

Assert Assert::DefaultChecks() {
  Assert a;
  a.not_starved = true;
  a.max_spread_pct = config::kDefaultMaxSpreadPct;
  a.max_gap_ms = config::kDefaultMaxGapMs;
  a.max_imbalance_ratio = config::kDefaultMaxImbalanceRatio;
  a.max_local_dsq_depth = config::kDefaultMaxLocalDsqDepth;
  a.fail_on_stall = true;
  a.sustained_samples = config::kDefaultSustainedSamples;
  a.max_fallback_rate = config::kDefaultMaxFallbackRate;
  a.max_keep_last_rate = config::kDefaultMaxKeepLastRate;
  return a;
}

Assert Assert::MergedWith(const Assert& o) const {
  Assert m = *this;
  Over(m.not_starved, o.not_starved);
  Over(m.isolation, o.isolation);
  Over(m.max_gap_ms, o.max_gap_ms);
  Over(m.max_spread_pct, o.max_spread_pct);
  Over(m.max_throughput_cv, o.max_throughput_cv);
  Over(m.min_work_rate, o.min_work_rate);
  Over(m.max_p99_wake_latency_ns, o.max_p99_wake_latency_ns);
  Over(m.max_wake_latency_cv, o.max_wake_latency_cv);
  Over(m.min_iteration_rate, o.min_iteration_rate);
  Over(m.max_migration_ratio, o.max_migration_ratio);
  Over(m.max_imbalance_ratio, o.max_imbalance_ratio);
  Over(m.max_local_dsq_depth, o.max_local_dsq_depth);
  Over(m.fail_on_stall, o.fail_on_stall);
  Over(m.sustained_samples, o.sustained_samples);
  Over(m.max_fallback_rate, o.max_fallback_rate);
  Over(m.max_keep_last_rate, o.max_keep_last_rate);
  Over(m.min_page_locality, o.min_page_locality);
  Over(m.max_cross_node_migration_ratio, o.max_cross_node_migration_ratio);
  Over(m.max_slow_tier_ratio, o.max_slow_tier_ratio);
  return m;
}

std::vector<std::string> Assert::EffectiveLines() const {
  std::vector<std::string> out;
  Line(out, "not_starved", not_starved);
  Line(out, "isolation", isolation);
  Line(out, "max_gap_ms", max_gap_ms);
  Line(out, "max_spread_pct", max_spread_pct);
  Line(out, "max_throughput_cv", max_throughput_cv);
  Line(out, "min_work_rate", min_work_rate);
  Line(out, "max_p99_wake_latency_ns", max_p99_wake_latency_ns);
  Line(out, "max_wake_latency_cv", max_wake_latency_cv);
  Line(out, "min_iteration_rate", min_iteration_rate);
  Line(out, "max_migration_ratio", max_migration_ratio);
  Line(out, "max_imbalance_ratio", max_imbalance_ratio);
  Line(out, "max_local_dsq_depth", max_local_dsq_depth);
  Line(out, "fail_on_stall", fail_on_stall);
  Line(out, "sustained_samples", sustained_samples);
  Line(out, "max_fallback_rate", max_fallback_rate);
  Line(out, "max_keep_last_rate", max_keep_last_rate);
  Line(out, "min_page_locality", min_page_locality);
  Line(out, "max_cross_node_migration_ratio", max_cross_node_migration_ratio);
  Line(out, "max_slow_tier_ratio", max_slow_tier_ratio);
  return out;
}

const char* DetailKindName(DetailKind k) {
  switch (k) {
    case DetailKind::kStarved:
      return "starved";
    case DetailKind::kStuck:
      return "stuck";
    case DetailKind::kUnfair:
      return "unfair";
    case DetailKind::kIsolation:
      return "isolation";
    case DetailKind::kBenchmark:
      return "benchmark";
    case DetailKind::kMigration:
      return "migration";
    case DetailKind::kPageLocality:
      return "page_locality";
    case DetailKind::kCrossNodeMigration:
      return "cross_node_migration";
    case DetailKind::kSlowTier:
      return "slow_tier";
    case DetailKind::kMonitor:
      return "monitor";
    case DetailKind::kSchedulerDied:
      return "scheduler_died";
    case DetailKind::kSkip:
      return "skip";
    case DetailKind::kOther:
      return "other";
  }
  return "?";
}

void ScenarioStats::Recompute() {
  ScenarioStats s;
  s.cgroups = std::move(cgroups);
  for (const CgroupStats& c : s.cgroups) {
    s.total_workers += c.workers;
    s.cpus_used = CpuUnion(s.cpus_used, c.cpus_used);
    s.total_migrations += c.total_migrations;
    s.worst_spread_pct = std::max(s.worst_spread_pct, c.spread_pct);
    if (c.max_gap_ms >= s.worst_gap_ms) {
      s.worst_gap_ms = c.max_gap_ms;
      s.worst_gap_cpu = c.max_gap_cpu;
    }
    s.worst_migration_ratio = std::max(s.worst_migration_ratio, c.migration_ratio);
    s.worst_p99_wake_latency_us = std::max(s.worst_p99_wake_latency_us, c.p99_wake_latency_us);
    s.worst_median_wake_latency_us =
        std::max(s.worst_median_wake_latency_us, c.median_wake_latency_us);
    s.worst_wake_latency_cv = std::max(s.worst_wake_latency_cv, c.wake_latency_cv);
    s.total_iterations += c.total_iterations;
    s.worst_mean_run_delay_us = std::max(s.worst_mean_run_delay_us, c.mean_run_delay_us);
    s.worst_run_delay_us = std::max(s.worst_run_delay_us, c.worst_run_delay_us);
  }
  *this = std::move(s);
}

AssertResult AssertResult::Skip(std::string reason) {
  AssertResult r;
  r.skipped = true;
  r.details.push_back({DetailKind::kSkip, std::move(reason), ""});
  return r;
}

AssertResult AssertResult::Fail(DetailKind kind, std::string message, std::string cgroup) {
  AssertResult r;
  r.AddFailure(kind, std::move(message), std::move(cgroup));
  return r;
}

void AssertResult::AddFailure(DetailKind kind, std::string message, std::string cgroup) {
  passed = false;
  details.push_back({kind, std::move(message), std::move(cgroup)});
}

AssertResult& AssertResult::Merge(const AssertResult& other) {
  passed = passed && other.passed;
  skipped = skipped || other.skipped;
  details.insert(details.end(), other.details.begin(), other.details.end());
  workers.insert(workers.end(), other.workers.begin(), other.workers.end());
  stats.cgroups.insert(stats.cgroups.end(), other.stats.cgroups.begin(), other.stats.cgroups.end());
  stats.Recompute();
  return *this;
}

std::string AssertResult::StatsText() const {
  const ScenarioStats& s = stats;
  std::string out = absl::StrFormat(
      "%d workers, %d cpus, %d migrations, worst_spread=%.1f%%, worst_gap=%dms\n", s.total_workers,
      s.cpus_used.size(), s.total_migrations, s.worst_spread_pct, s.worst_gap_ms);
  for (const CgroupStats& c : s.cgroups) {
    absl::StrAppendFormat(
        &out,
        "  %s: %d workers, cpus %s, off-cpu %.1f-%.1f%% (spread %.1f%%), gap %dms on cpu%d, "
        "%d migrations, %d iterations, %d work units, p99 wake %.0fus, run delay %.0fus\n",
        c.name.empty() ? "(host)" : c.name, c.workers, FormatCpuList(c.cpus_used),
        c.min_off_cpu_pct, c.max_off_cpu_pct, c.spread_pct, c.max_gap_ms, c.max_gap_cpu,
        c.total_migrations, c.total_iterations, c.total_work_units, c.p99_wake_latency_us,
        c.mean_run_delay_us);
    if (c.numa_pages > 0) {  // sampled only when a NUMA check is on
      out.pop_back();
      absl::StrAppendFormat(&out, ", page locality %.1f%% of %d pages\n", c.page_locality * 100,
                            c.numa_pages);
    }
  }
  return out;
}

namespace {

// The nodes a worker's pages belong on: its policy's, else (local allocation) those of the
// CPUs it ran on. Empty when unknown (no topology): then every page counts as local.
std::set<int> PolicyNodes(const WorkerReport& r, const NumaFacts& numa) {
  if (!r.policy_nodes.empty()) return {r.policy_nodes.begin(), r.policy_nodes.end()};
  std::set<int> nodes;
  for (int cpu : r.cpus_used) {
    auto it = numa.node_of_cpu.find(cpu);
    if (it != numa.node_of_cpu.end()) nodes.insert(it->second);
  }
  return nodes;
}

}  // namespace

CgroupStats ComputeCgroupStats(const CgroupReports& group, const NumaFacts& numa) {
  CgroupStats c;
  c.name = group.name;
  c.allowed_cpus = group.allowed_cpus;
  std::vector<double> off, latencies_us, rates, run_delays;
  uint64_t delay_sum = 0, run_count_sum = 0;
  for (const WorkerReport& r : group.reports) {
    ++c.workers;
    c.cpus_used = CpuUnion(c.cpus_used, r.cpus_used);
    if (r.wall_time_ns > 0) off.push_back(OffCpuPct(r));
    if (r.max_gap_ms >= c.max_gap_ms) {
      c.max_gap_ms = r.max_gap_ms;
      c.max_gap_cpu = r.max_gap_cpu;
    }
    c.total_migrations += r.migrations;
    c.total_iterations += r.iterations;
    c.total_work_units += r.work_units;
    for (uint64_t ns : r.resume_latencies_ns) latencies_us.push_back(ns / 1000.0);
    if (r.cpu_time_ns > 0) rates.push_back(r.work_units / (r.cpu_time_ns / 1e9));
    delay_sum += r.schedstat_run_delay_ns;
    run_count_sum += r.schedstat_run_count;
    if (r.schedstat_run_count > 0) {
      run_delays.push_back(r.schedstat_run_delay_ns / 1000.0 / r.schedstat_run_count);
    }
    const std::set<int> home = PolicyNodes(r, numa);
    for (const auto& [node, pages] : r.numa_pages) {
      c.numa_pages += pages;
      if (home.empty() || home.count(node)) c.numa_policy_pages += pages;
    }
  }
  c.page_locality =
      c.numa_pages ? static_cast<double>(c.numa_policy_pages) / c.numa_pages : 1.0;
  if (!off.empty()) {
    c.avg_off_cpu_pct = stats::Mean(off);
    c.min_off_cpu_pct = *std::min_element(off.begin(), off.end());
    c.max_off_cpu_pct = *std::max_element(off.begin(), off.end());
    c.spread_pct = stats::Spread(off);
  }
  c.migration_ratio = c.total_iterations ? static_cast<double>(c.total_migrations) /
                                               static_cast<double>(c.total_iterations)
                                         : 0;
  c.p99_wake_latency_us = stats::Percentile(latencies_us, 99);
  c.median_wake_latency_us = stats::Percentile(latencies_us, 50);
  c.wake_latency_cv = stats::CoefficientOfVariation(latencies_us);
  c.mean_run_delay_us = run_count_sum ? delay_sum / 1000.0 / run_count_sum : 0;
  c.worst_run_delay_us =
      run_delays.empty() ? 0 : *std::max_element(run_delays.begin(), run_delays.end());
  c.throughput_cv = stats::CoefficientOfVariation(rates);
  c.iterations_per_worker = c.workers ? static_cast<double>(c.total_iterations) / c.workers : 0;
  return c;
}

namespace {

void CheckGroup(const CgroupReports& g, const CgroupStats& c, const Assert& a, AssertResult& out) {
  const std::string& cg = g.name;
  const std::string where = cg.empty() ? "host" : cg;
  for (const WorkerReport& r : g.reports) {
    if (!r.error.empty()) {
      out.AddFailure(DetailKind::kOther,
                     absl::StrFormat("%s worker %d setup failed: %s", where, r.pid, r.error), cg);
      continue;
    }
    if (r.exit != WorkerExit::kCompleted) {
      out.AddFailure(DetailKind::kOther,
                     absl::StrFormat("%s worker %d did not report: %s (status %d)", where, r.pid,
                                     WorkerExitName(r.exit), r.exit_status),
                     cg);
    }
    if (a.not_starved.value_or(false) && r.work_units == 0) {
      out.AddFailure(DetailKind::kStarved,
                     absl::StrFormat("%s worker %d starved: 0 work units in %dms", where, r.pid,
                                     r.wall_time_ns / 1000000),
                     cg);
    }
    if (a.max_gap_ms && r.max_gap_ms > *a.max_gap_ms) {
      out.AddFailure(
          DetailKind::kStuck,
          absl::StrFormat("stuck %dms on cpu%d at +%dms (%s worker %d, limit %dms)", r.max_gap_ms,
                          r.max_gap_cpu, r.max_gap_at_ms, where, r.pid, *a.max_gap_ms),
          cg);
    }
    if (a.isolation.value_or(false) && !g.allowed_cpus.empty() &&
        !CpuSubset(r.cpus_used, g.allowed_cpus)) {
      out.AddFailure(
          DetailKind::kIsolation,
          absl::StrFormat("%s worker %d ran on cpus %s outside its cpuset %s", where, r.pid,
                          FormatCpuList(r.cpus_used), FormatCpuList(g.allowed_cpus)),
          cg);
    }
    if (a.min_work_rate && r.cpu_time_ns > 0) {
      const double rate = r.work_units / (r.cpu_time_ns / 1e9);
      if (rate < *a.min_work_rate) {
        out.AddFailure(DetailKind::kBenchmark,
                       absl::StrFormat("%s worker %d work rate %.0f/cpu-s < %.0f", where, r.pid,
                                       rate, *a.min_work_rate),
                       cg);
      }
    }
    if (a.min_iteration_rate && r.wall_time_ns > 0) {
      const double rate = r.iterations / (r.wall_time_ns / 1e9);
      if (rate < *a.min_iteration_rate) {
        out.AddFailure(DetailKind::kBenchmark,
                       absl::StrFormat("%s worker %d iteration rate %.1f/s < %.1f", where, r.pid,
                                       rate, *a.min_iteration_rate),
                       cg);
      }
    }
  }
  if (a.max_spread_pct && c.workers >= 2 && c.spread_pct > *a.max_spread_pct) {
    out.AddFailure(
        DetailKind::kUnfair,
        absl::StrFormat("%s off-cpu spread %.1f%% > %.1f%% (%.1f%%..%.1f%%)", where, c.spread_pct,
                        *a.max_spread_pct, c.min_off_cpu_pct, c.max_off_cpu_pct),
        cg);
  }
  if (a.max_throughput_cv && c.throughput_cv > *a.max_throughput_cv) {
    out.AddFailure(DetailKind::kUnfair,
                   absl::StrFormat("%s throughput cv %.3f > %.3f", where, c.throughput_cv,
                                   *a.max_throughput_cv),
                   cg);
  }
  if (a.max_p99_wake_latency_ns && c.p99_wake_latency_us * 1000 > *a.max_p99_wake_latency_ns) {
    out.AddFailure(DetailKind::kBenchmark,
                   absl::StrFormat("%s p99 wake latency %.0fus > %.0fus", where,
                                   c.p99_wake_latency_us, *a.max_p99_wake_latency_ns / 1000.0),
                   cg);
  }
  if (a.max_wake_latency_cv && c.wake_latency_cv > *a.max_wake_latency_cv) {
    out.AddFailure(DetailKind::kBenchmark,
                   absl::StrFormat("%s wake latency cv %.3f > %.3f", where, c.wake_latency_cv,
                                   *a.max_wake_latency_cv),
                   cg);
  }
  if (a.min_page_locality && c.page_locality < *a.min_page_locality) {
    out.AddFailure(DetailKind::kPageLocality,
                   absl::StrFormat("%s page locality %.2f < %.2f (%d of %d anonymous pages on "
                                   "the memory policy's nodes)",
                                   where, c.page_locality, *a.min_page_locality,
                                   c.numa_policy_pages, c.numa_pages),
                   cg);
  }
  if (a.max_migration_ratio && c.migration_ratio > *a.max_migration_ratio) {
    out.AddFailure(DetailKind::kMigration,
                   absl::StrFormat("%s migration ratio %.4f > %.4f", where, c.migration_ratio,
                                   *a.max_migration_ratio),
                   cg);
  }
}

}  // namespace

namespace {

// ktstr's scenario-wide NUMA ratios, over every worker's anonymous pages.
void CheckNumaTotals(const std::vector<CgroupReports>& groups, const Assert& a,
                     const NumaFacts& numa, AssertResult& out) {
  uint64_t total = 0, slow = 0;
  for (const CgroupReports& g : groups) {
    for (const WorkerReport& r : g.reports) {
      for (const auto& [node, pages] : r.numa_pages) {
        total += pages;
        if (numa.memory_only_nodes.count(node)) slow += pages;
      }
    }
  }
  if (total == 0) return;  // nothing measured: ktstr passes these (ratio of nothing)
  const double migrated = static_cast<double>(numa.pages_migrated) / total;
  if (a.max_cross_node_migration_ratio && migrated > *a.max_cross_node_migration_ratio) {
    out.AddFailure(DetailKind::kCrossNodeMigration,
                   absl::StrFormat("cross-node migration ratio %.3f > %.3f (%d pages migrated, "
                                   "%d anonymous pages)",
                                   migrated, *a.max_cross_node_migration_ratio,
                                   numa.pages_migrated, total));
  }
  const double slow_ratio = static_cast<double>(slow) / total;
  if (a.max_slow_tier_ratio && slow_ratio > *a.max_slow_tier_ratio) {
    out.AddFailure(DetailKind::kSlowTier,
                   absl::StrFormat("slow-tier ratio %.3f > %.3f (%d of %d anonymous pages on "
                                   "memory-only nodes)",
                                   slow_ratio, *a.max_slow_tier_ratio, slow, total));
  }
}

}  // namespace

AssertResult Evaluate(const std::vector<CgroupReports>& groups, const Assert& checks,
                      const NumaFacts& numa) {
  AssertResult out;
  for (const CgroupReports& g : groups) {
    if (g.reports.empty()) continue;
    CgroupStats c = ComputeCgroupStats(g, numa);
    CheckGroup(g, c, checks, out);
    out.stats.cgroups.push_back(std::move(c));
    out.workers.insert(out.workers.end(), g.reports.begin(), g.reports.end());
  }
  CheckNumaTotals(groups, checks, numa, out);
  out.stats.Recompute();
  return out;
}

}  // namespace ktstr
