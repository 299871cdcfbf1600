#include "guest_agent/testlib/report.h"

#include "guest_agent/testlib/stats.h"

namespace ktstr {

v1::DetailKind ToProtoDetailKind(DetailKind k) {
  switch (k) {
    case DetailKind::kStarved:
      return v1::DETAIL_KIND_STARVED;
    case DetailKind::kStuck:
      return v1::DETAIL_KIND_STUCK;
    case DetailKind::kUnfair:
      return v1::DETAIL_KIND_UNFAIR;
    case DetailKind::kIsolation:
      return v1::DETAIL_KIND_ISOLATION;
    case DetailKind::kBenchmark:
      return v1::DETAIL_KIND_BENCHMARK;
    case DetailKind::kMigration:
      return v1::DETAIL_KIND_MIGRATION;
    case DetailKind::kPageLocality:
      return v1::DETAIL_KIND_PAGE_LOCALITY;
    case DetailKind::kCrossNodeMigration:
      return v1::DETAIL_KIND_CROSS_NODE_MIGRATION;
    case DetailKind::kSlowTier:
      return v1::DETAIL_KIND_SLOW_TIER;
    case DetailKind::kMonitor:
      return v1::DETAIL_KIND_MONITOR;
    case DetailKind::kSchedulerDied:
      return v1::DETAIL_KIND_SCHEDULER_DIED;
    case DetailKind::kSkip:
      return v1::DETAIL_KIND_SKIP;
    case DetailKind::kOther:
      return v1::DETAIL_KIND_OTHER;
  }
  return v1::DETAIL_KIND_UNSPECIFIED;
}

v1::WorkerSummary ToProtoWorker(const WorkerReport& w) {
  v1::WorkerSummary p;
  p.set_pid(static_cast<uint32_t>(w.pid));
  p.set_cgroup(w.cgroup);
  p.set_work_type(w.work_type);
  p.set_work_units(w.work_units);
  p.set_iterations(w.iterations);
  p.set_cpu_time_ns(w.cpu_time_ns);
  p.set_wall_time_ns(w.wall_time_ns);
  p.set_off_cpu_ns(w.off_cpu_ns);
  p.set_migrations(w.migrations);
  p.set_cpus_used_list(FormatCpuList(w.cpus_used));
  p.set_max_gap_ms(w.max_gap_ms);
  p.set_max_gap_cpu(w.max_gap_cpu);
  p.set_max_gap_at_ms(w.max_gap_at_ms);
  p.set_wake_samples(w.wake_sample_total);
  std::vector<double> us;
  for (uint64_t ns : w.resume_latencies_ns) us.push_back(ns / 1000.0);
  p.set_p99_wake_latency_us(stats::Percentile(us, 99));
  p.set_schedstat_run_delay_ns(w.schedstat_run_delay_ns);
  p.set_schedstat_run_count(w.schedstat_run_count);
  p.set_exit(WorkerExitName(w.exit));
  p.set_error(w.error);
  return p;
}

v1::ScenarioStats ToProtoStats(const ScenarioStats& s) {
  v1::ScenarioStats p;
  for (const CgroupStats& c : s.cgroups) {
    v1::CgroupStats* pc = p.add_cgroups();
    pc->set_name(c.name);
    pc->set_workers(c.workers);
    pc->set_cpus_used(static_cast<uint32_t>(c.cpus_used.size()));
    pc->set_avg_off_cpu_pct(c.avg_off_cpu_pct);
    pc->set_min_off_cpu_pct(c.min_off_cpu_pct);
    pc->set_max_off_cpu_pct(c.max_off_cpu_pct);
    pc->set_spread_pct(c.spread_pct);
    pc->set_max_gap_ms(c.max_gap_ms);
    pc->set_max_gap_cpu(c.max_gap_cpu < 0 ? 0 : c.max_gap_cpu);
    pc->set_total_migrations(c.total_migrations);
    pc->set_migration_ratio(c.migration_ratio);
    pc->set_p99_wake_latency_us(c.p99_wake_latency_us);
    pc->set_median_wake_latency_us(c.median_wake_latency_us);
    pc->set_wake_latency_cv(c.wake_latency_cv);
    pc->set_total_iterations(c.total_iterations);
    pc->set_mean_run_delay_us(c.mean_run_delay_us);
    pc->set_worst_run_delay_us(c.worst_run_delay_us);
    pc->set_total_work_units(c.total_work_units);
    pc->set_throughput_cv(c.throughput_cv);
    pc->set_iterations_per_worker(c.iterations_per_worker);
    pc->set_cpus_used_list(FormatCpuList(c.cpus_used));
    pc->set_allowed_cpus_list(FormatCpuList(c.allowed_cpus));
    pc->set_numa_pages(c.numa_pages);
    pc->set_page_locality(c.page_locality);
  }
  p.set_total_workers(s.total_workers);
  p.set_total_cpus(static_cast<uint32_t>(s.cpus_used.size()));
  p.set_total_migrations(s.total_migrations);
  p.set_worst_spread_pct(s.worst_spread_pct);
  p.set_worst_gap_ms(s.worst_gap_ms);
  p.set_worst_gap_cpu(s.worst_gap_cpu < 0 ? 0 : s.worst_gap_cpu);
  p.set_worst_migration_ratio(s.worst_migration_ratio);
  p.set_worst_p99_wake_latency_us(s.worst_p99_wake_latency_us);
  p.set_worst_median_wake_latency_us(s.worst_median_wake_latency_us);
  p.set_worst_wake_latency_cv(s.worst_wake_latency_cv);
  p.set_total_iterations(s.total_iterations);
  p.set_worst_mean_run_delay_us(s.worst_mean_run_delay_us);
  p.set_worst_run_delay_us(s.worst_run_delay_us);
  return p;
}

v1::TestReport ToTestReport(const std::string& test_name, const AssertResult& result,
                            v1::TestOutcome outcome, double duration_s,
                            const std::string& scheduler_name, const Assert& checks) {
  v1::TestReport r;
  r.set_test_name(test_name);
  r.set_outcome(outcome);
  for (const AssertDetail& d : result.details) {
    v1::Detail* pd = r.add_details();
    pd->set_kind(ToProtoDetailKind(d.kind));
    pd->set_message(d.message);
    pd->set_cgroup(d.cgroup);
  }
  *r.mutable_stats() = ToProtoStats(result.stats);
  r.set_stats_text(result.StatsText());
  r.set_duration_s(duration_s);
  r.set_scheduler_name(scheduler_name);
  for (const std::string& line : checks.EffectiveLines()) r.add_effective_checks(line);
  for (const WorkerReport& w : result.workers) *r.add_workers() = ToProtoWorker(w);
  return r;
}

}  // namespace ktstr
