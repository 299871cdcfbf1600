// KTSTR_TEST attributes with ktstr's defaults, and their resolution along the merge chain
// defaults -> scheduler -> test (the most specific set value wins).
//
// Written as C++20 designated initializers, so fields must appear in declaration order:
//   KTSTR_TEST(t, {.llcs = 2, .cores = 2, .duration_s = 1, .max_gap_ms = 500}) { ... }
#ifndef KTSTR_GUEST_AGENT_TESTLIB_TEST_ATTRS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_TEST_ATTRS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/scheduler_def.h"

namespace ktstr {
namespace config {
// The attribute defaults of ktstr (the Rust original); testlib/README.md lists them.
inline constexpr uint32_t kDefaultMemoryMb = 2048;
inline constexpr uint32_t kDefaultDurationS = 2;
inline constexpr uint32_t kDefaultWorkersPerCgroup = 2;
inline constexpr uint32_t kDefaultWatchdogTimeoutS = 4;
inline constexpr uint32_t kDefaultMinNumaNodes = 1, kDefaultMaxNumaNodes = 1;
inline constexpr uint32_t kDefaultMinLlcs = 1, kDefaultMaxLlcs = 12;
inline constexpr uint32_t kDefaultMinCpus = 1, kDefaultMaxCpus = 192;
// Guards against typos (a 36000 s test); ktstr's budget machinery assumes short tests.
inline constexpr uint32_t kMaxDurationS = 3600;
}  // namespace config

struct TestAttrs {
  // Topology (unset: the scheduler's default topology, else 1n1l2c1t).
  std::optional<uint32_t> numa_nodes;
  std::optional<uint32_t> llcs;                // total; a multiple of numa_nodes
  std::optional<uint32_t> cores;               // per LLC
  std::optional<uint32_t> threads;             // per core
  std::optional<uint32_t> memory_mb;           // floor; default 2048
  std::optional<uint32_t> duration_s;          // default 2
  std::optional<uint32_t> workers_per_cgroup;  // default 2
  // Scheduler (nullptr = EEVDF) and extra arguments appended after its sched_args.
  const SchedulerDef* scheduler = nullptr;
  std::vector<std::string> extra_sched_args;
  std::optional<uint32_t> watchdog_timeout_s;  // sched_ext watchdog; default 4
  std::vector<std::string> required_flags;
  std::vector<std::string> excluded_flags;
  // Gauntlet constraints (unset: the scheduler's, else ktstr's defaults).
  std::optional<uint32_t> min_numa_nodes, max_numa_nodes;
  std::optional<uint32_t> min_llcs, max_llcs;
  std::optional<uint32_t> min_cpus, max_cpus;
  std::optional<bool> requires_smt;
  // Execution.
  bool expect_err = false;  // the test must fail (verdict inverted)
  bool auto_repro = true;
  bool performance_mode = false;
  bool host_only = false;
  std::optional<uint32_t> cleanup_budget_ms;
  // Check overrides (see checks.h for meaning and units).
  std::optional<bool> not_starved;
  std::optional<bool> isolation;
  std::optional<uint64_t> max_gap_ms;
  std::optional<double> max_spread_pct;
  std::optional<double> max_throughput_cv;
  std::optional<double> min_work_rate;
  std::optional<uint64_t> max_p99_wake_latency_ns;
  std::optional<double> max_wake_latency_cv;
  std::optional<double> min_iteration_rate;
  std::optional<double> max_migration_ratio;
  std::optional<double> max_imbalance_ratio;
  std::optional<uint32_t> max_local_dsq_depth;
  std::optional<bool> fail_on_stall;
  std::optional<uint32_t> sustained_samples;
  std::optional<double> max_fallback_rate;
  std::optional<double> max_keep_last_rate;
  std::optional<double> min_page_locality;
  std::optional<double> max_cross_node_migration_ratio;
  std::optional<double> max_slow_tier_ratio;

  // The check overrides as an Assert.
  Assert checks() const;
};

// Every attribute after the merge chain.
struct ResolvedAttrs {
  uint32_t numa_nodes = 1, llcs = 1, cores = 2, threads = 1;
  uint32_t memory_mb = config::kDefaultMemoryMb;
  uint32_t duration_s = config::kDefaultDurationS;
  uint32_t workers_per_cgroup = config::kDefaultWorkersPerCgroup;
  uint32_t watchdog_timeout_s = config::kDefaultWatchdogTimeoutS;
  const SchedulerDef* scheduler = &kEevdf;
  std::vector<std::string> extra_sched_args, required_flags, excluded_flags;
  std::vector<std::vector<std::string>> flag_profiles;
  uint32_t min_numa_nodes = 0, max_numa_nodes = 0, min_llcs = 0, max_llcs = 0, min_cpus = 0,
           max_cpus = 0;
  bool requires_smt = false;
  bool expect_err = false, auto_repro = true, performance_mode = false, host_only = false;
  std::optional<uint32_t> cleanup_budget_ms;
  Assert checks;  // defaults -> scheduler -> test
  uint32_t total_cpus() const { return llcs * cores * threads; }
};

// Checks a test's own attributes (no scheduler needed): zero counts/durations, llcs not a
// multiple of numa_nodes, min > max, negative thresholds. Errors name the test.
absl::Status ValidateTestAttrs(const std::string& test_name, const TestAttrs& attrs);
// Merges defaults -> scheduler -> test and validates the result (flags exist, the topology
// satisfies the constraints). Errors name the test.
absl::StatusOr<ResolvedAttrs> ResolveAttrs(const std::string& test_name, const TestAttrs& attrs);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_TEST_ATTRS_H_
