#include "daemon/compare.h"

#include <cmath>
#include <map>
#include <string>

#include "absl/strings/str_join.h"

namespace ktstr::daemon {
namespace {

struct MetricRule {
  const char* name;
  bool higher_is_better;
  double abs_gate;
  double rel_gate;
};

// ktstr's metric registry (polarity, absolute and relative gates), for the metrics
// ScenarioStats carries; daemon/README.md lists them.
constexpr MetricRule kRules[] = {
    {"worst_spread", false, 5.0, 0.25},
    {"worst_gap_ms", false, 500, 0.50},
    {"total_migrations", false, 10, 0.30},
    {"worst_migration_ratio", false, 0.05, 0.20},
    {"worst_p99_wake_latency_us", false, 50, 0.25},
    {"worst_median_wake_latency_us", false, 20, 0.25},
    {"worst_wake_latency_cv", false, 0.10, 0.25},
    {"total_iterations", true, 100, 0.10},
    {"worst_mean_run_delay_us", false, 50, 0.25},
    {"worst_run_delay_us", false, 100, 0.50},
};

std::map<std::string, double> Values(const ktstr::v1::Job& j) {
  const auto& s = j.verdict().report().stats();
  return {{"worst_spread", s.worst_spread_pct()},
          {"worst_gap_ms", static_cast<double>(s.worst_gap_ms())},
          {"total_migrations", static_cast<double>(s.total_migrations())},
          {"worst_migration_ratio", s.worst_migration_ratio()},
          {"worst_p99_wake_latency_us", s.worst_p99_wake_latency_us()},
          {"worst_median_wake_latency_us", s.worst_median_wake_latency_us()},
          {"worst_wake_latency_cv", s.worst_wake_latency_cv()},
          {"total_iterations", static_cast<double>(s.total_iterations())},
          {"worst_mean_run_delay_us", s.worst_mean_run_delay_us()},
          {"worst_run_delay_us", s.worst_run_delay_us()}};
}

std::string Key(const ktstr::v1::Job& j) {
  std::string sched = j.spec().scheduler().name().empty() ? "eevdf" : j.spec().scheduler().name();
  return absl::StrJoin({j.spec().test_name(), j.topology(), sched,
                        absl::StrJoin(j.spec().flags(), ",")}, " ");
}

bool Passed(const ktstr::v1::Job& j) { return j.verdict().kind() == ktstr::v1::VERDICT_KIND_PASS; }

}  // namespace

ktstr::v1::CompareRunsResponse CompareRuns(const ktstr::v1::Run& a, const ktstr::v1::Run& b,
                                           double threshold_pct) {
  ktstr::v1::CompareRunsResponse out;
  std::map<std::string, const ktstr::v1::Job*> ja, jb;
  for (const auto& j : a.jobs()) ja[Key(j)] = &j;
  for (const auto& j : b.jobs()) jb[Key(j)] = &j;
  for (const auto& [key, job_a] : ja) {
    auto it = jb.find(key);
    if (it == jb.end()) {
      out.add_only_in_a(key);
      continue;
    }
    const ktstr::v1::Job* job_b = it->second;
    auto* cj = out.add_jobs();
    cj->set_key(key);
    cj->set_verdict_a(job_a->verdict().kind());
    cj->set_verdict_b(job_b->verdict().kind());
    if (!Passed(*job_a) || !Passed(*job_b)) continue;
    auto va = Values(*job_a), vb = Values(*job_b);
    for (const MetricRule& r : kRules) {
      double x = va[r.name], y = vb[r.name];
      if (std::fabs(x) < 1e-12 && std::fabs(y) < 1e-12) continue;
      double delta = y - x;
      double rel = std::fabs(x) > 1e-12 ? std::fabs(delta / x) : INFINITY;
      double rel_gate = threshold_pct > 0 ? threshold_pct / 100.0 : r.rel_gate;
      auto* d = cj->add_deltas();
      d->set_metric(r.name);
      d->set_a(x);
      d->set_b(y);
      d->set_delta(delta);
      d->set_relative(std::isinf(rel) ? 0 : rel);
      d->set_significant(std::fabs(delta) >= r.abs_gate && rel >= rel_gate);
      bool worse = r.higher_is_better ? delta < 0 : delta > 0;
      d->set_regression(d->significant() && worse);
      if (d->significant()) {
        if (worse) out.set_regressions(out.regressions() + 1);
        else out.set_improvements(out.improvements() + 1);
      }
    }
  }
  for (const auto& [key, j] : jb) {
    if (!ja.count(key)) out.add_only_in_b(key);
  }
  return out;
}

}  // namespace ktstr::daemon
