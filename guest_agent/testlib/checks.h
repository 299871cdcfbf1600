// Check thresholds (ktstr's Assert: every field optional, merged defaults -> scheduler -> test,
// the most specific set value wins), the statistics computed from worker reports, and the
// verdict (AssertResult) with its human-readable stats block.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_CHECKS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_CHECKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "guest_agent/testlib/topology.h"
#include "guest_agent/testlib/worker_report.h"

namespace ktstr {
namespace config {
// ktstr's release-build limits: the default thresholds (listed in testlib/README.md).
inline constexpr double kDefaultMaxSpreadPct = 15.0;
inline constexpr uint64_t kDefaultMaxGapMs = 2000;
// Host-side monitor defaults (MonitorThresholds::DEFAULT); carried for the host, not checked
// in the guest.
inline constexpr double kDefaultMaxImbalanceRatio = 4.0;
inline constexpr uint32_t kDefaultMaxLocalDsqDepth = 50;
inline constexpr uint32_t kDefaultSustainedSamples = 5;
inline constexpr double kDefaultMaxFallbackRate = 200.0;
inline constexpr double kDefaultMaxKeepLastRate = 100.0;
}  // namespace config

// Thresholds; an unset field inherits. Names and units are ktstr's.
struct Assert {
  std::optional<bool> not_starved;                  // any worker with 0 work units fails
  std::optional<bool> isolation;                    // workers must stay in their cpuset
  std::optional<uint64_t> max_gap_ms;               // longest scheduling gap per worker
  std::optional<double> max_spread_pct;             // off-CPU% max-min per cgroup
  std::optional<double> max_throughput_cv;          // CV of work units per CPU-second
  std::optional<double> min_work_rate;              // work units per CPU-second, per worker
  std::optional<uint64_t> max_p99_wake_latency_ns;  // p99 of a cgroup's wake latencies
  std::optional<double> max_wake_latency_cv;
  std::optional<double> min_iteration_rate;   // iterations per wall-second, per worker
  std::optional<double> max_migration_ratio;  // migrations / iterations, per cgroup
  // Host-side monitor thresholds (evaluated by the host, carried here for the merge).
  std::optional<double> max_imbalance_ratio;
  std::optional<uint32_t> max_local_dsq_depth;
  std::optional<bool> fail_on_stall;
  std::optional<uint32_t> sustained_samples;
  std::optional<double> max_fallback_rate;   // per second
  std::optional<double> max_keep_last_rate;  // per second
  // NUMA checks (guest-side, from the workers' numa_maps and /proc/vmstat).
  std::optional<double> min_page_locality;
  std::optional<double> max_cross_node_migration_ratio;
  std::optional<double> max_slow_tier_ratio;

  // not_starved, 15% spread, 2000 ms gap and the monitor defaults.
  static Assert DefaultChecks();
  // A copy with every field `over` sets replacing ours (last set wins; false can disable).
  Assert MergedWith(const Assert& over) const;
  // "name=value" for every set field, in declaration order.
  std::vector<std::string> EffectiveLines() const;
};

// The closed set of reasons (mirrors ktstr.v1.DetailKind).
enum class DetailKind {
  kStarved,
  kStuck,
  kUnfair,
  kIsolation,
  kBenchmark,
  kMigration,
  kPageLocality,
  kCrossNodeMigration,
  kSlowTier,
  kMonitor,
  kSchedulerDied,
  kSkip,
  kOther,
};
const char* DetailKindName(DetailKind k);

struct AssertDetail {
  DetailKind kind = DetailKind::kOther;
  std::string message;  // e.g. "stuck 3500ms on cpu1 at +1200ms (cg_0 worker 4242)"
  std::string cgroup;
};

// Per-cgroup statistics (fields and units as ktstr.v1.CgroupStats).
struct CgroupStats {
  std::string name;
  uint32_t workers = 0;
  CpuSet cpus_used;
  CpuSet allowed_cpus;  // union of the cgroup's cpusets; empty = ran unrestricted
  double avg_off_cpu_pct = 0, min_off_cpu_pct = 0, max_off_cpu_pct = 0, spread_pct = 0;
  uint64_t max_gap_ms = 0;
  int max_gap_cpu = -1;
  uint64_t total_migrations = 0;
  double migration_ratio = 0;
  double p99_wake_latency_us = 0, median_wake_latency_us = 0, wake_latency_cv = 0;
  uint64_t total_iterations = 0;
  double mean_run_delay_us = 0, worst_run_delay_us = 0;
  uint64_t total_work_units = 0;
  double throughput_cv = 0;
  double iterations_per_worker = 0;
  // Anonymous pages of its workers at the end, and the fraction of them on their memory
  // policy's nodes (local allocation: the nodes of the CPUs each worker ran on); 1.0 when
  // there are none.
  uint64_t numa_pages = 0;
  uint64_t numa_policy_pages = 0;  // of numa_pages, those on the policy's nodes
  double page_locality = 1.0;
};

struct ScenarioStats {
  std::vector<CgroupStats> cgroups;
  uint32_t total_workers = 0;
  CpuSet cpus_used;
  uint64_t total_migrations = 0;
  double worst_spread_pct = 0;
  uint64_t worst_gap_ms = 0;
  int worst_gap_cpu = -1;
  double worst_migration_ratio = 0;
  double worst_p99_wake_latency_us = 0, worst_median_wake_latency_us = 0;
  double worst_wake_latency_cv = 0;
  uint64_t total_iterations = 0;
  double worst_mean_run_delay_us = 0, worst_run_delay_us = 0;
  // Recomputes the scenario-wide fields from `cgroups`.
  void Recompute();
};

struct AssertResult {
  bool passed = true;
  bool skipped = false;
  std::vector<AssertDetail> details;
  ScenarioStats stats;
  std::vector<WorkerReport> workers;  // every report the verdict was computed from

  static AssertResult Pass() { return {}; }
  static AssertResult Skip(std::string reason);
  static AssertResult Fail(DetailKind kind, std::string message, std::string cgroup = "");
  void AddFailure(DetailKind kind, std::string message, std::string cgroup = "");
  // ANDs `passed`, concatenates details and workers, combines statistics (worst / sum).
  AssertResult& Merge(const AssertResult& other);
  // "4 workers, 2 cpus, 8 migrations, worst_spread=12.3%, worst_gap=3500ms" and one line per
  // cgroup.
  std::string StatsText() const;
};

// The reports of one cgroup and the CPUs its workers were allowed on during the run (the
// union of every cpuset it had; empty = unrestricted).
struct CgroupReports {
  std::string name;
  std::vector<WorkerReport> reports;
  CpuSet allowed_cpus;
};

// What the NUMA checks need beyond the reports: the guest's node of each CPU, its nodes
// without CPUs (memory-only: ktstr's slow tier), and /proc/vmstat's numa_pages_migrated
// over the scenario.
struct NumaFacts {
  std::map<int, int> node_of_cpu;
  std::set<int> memory_only_nodes;
  uint64_t pages_migrated = 0;
};

CgroupStats ComputeCgroupStats(const CgroupReports& group, const NumaFacts& numa = {});
// Statistics plus every enabled check, per cgroup; the NUMA checks (min_page_locality per
// cgroup, max_cross_node_migration_ratio and max_slow_tier_ratio over all workers' pages)
// from `numa`.
AssertResult Evaluate(const std::vector<CgroupReports>& groups, const Assert& checks,
                      const NumaFacts& numa = {});

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_CHECKS_H_
