#include "client/gauntlet_budget.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr::client {
namespace {

// Bucket name for `n` against ascending upper bounds: "<=2", "<=4", ..., ">16".
std::string Bucket(const char* what, uint32_t n, std::initializer_list<uint32_t> bounds) {
  for (uint32_t b : bounds) {
    if (n <= b) return absl::StrCat(what, "<=", b);
  }
  return absl::StrCat(what, ">", *(bounds.end() - 1));
}

uint32_t Cpus(const ktstr::v1::Topology& t) {
  return t.numa_nodes() * t.llcs() * t.cores_per_llc() * t.threads_per_core();
}

}  // namespace

std::set<std::string> VariantFeatures(const GauntletVariant& v) {
  const ktstr::v1::Topology& t = v.topology;
  std::set<std::string> f = {
      absl::StrCat("test:", v.test->name()),
      absl::StrCat("scheduler:", v.test->scheduler().empty() ? "eevdf" : v.test->scheduler()),
      Bucket("cpus", Cpus(t), {2, 4, 8, 16}),
      Bucket("llcs", t.llcs(), {1, 2, 4, 8}),
      Bucket("numa", t.numa_nodes(), {1, 2, 4}),
      t.threads_per_core() > 1 ? "smt" : "no-smt",
      v.test->expect_err() ? "expect-err" : "expect-pass",
      Bucket("duration", v.test->duration_s(), {2, 10}),
      absl::StrCat("kernel:", v.kernel.empty() ? "default" : v.kernel),
  };
  if (v.profile == nullptr || v.profile->flags().empty()) {
    f.insert("flag:none");
  } else {
    for (const std::string& flag : v.profile->flags()) f.insert(absl::StrCat("flag:", flag));
  }
  return f;
}

double EstimatedSeconds(const GauntletVariant& v) {
  const uint32_t cpus = Cpus(v.topology);
  const double extra_cpus = cpus > 16 ? (cpus - 16) / 10.0 : 0;
  const uint32_t duration = v.test->duration_s() ? v.test->duration_s() : 2;
  return 10 + extra_cpus + duration + 2;
}

BudgetSelection SelectWithinBudget(const std::vector<GauntletVariant>& variants,
                                   double budget_s) {
  std::vector<std::set<std::string>> features;
  std::vector<double> cost;
  std::set<std::string> all;
  for (const GauntletVariant& v : variants) {
    features.push_back(VariantFeatures(v));
    cost.push_back(EstimatedSeconds(v));
    all.insert(features.back().begin(), features.back().end());
  }
  BudgetSelection sel;
  sel.features_total = all.size();
  std::set<std::string> covered;
  std::vector<bool> taken(variants.size(), false);
  while (true) {
    size_t best = variants.size();
    double best_ratio = 0;
    for (size_t i = 0; i < variants.size(); ++i) {
      if (taken[i] || sel.estimated_s + cost[i] > budget_s) continue;
      size_t fresh = 0;
      for (const std::string& f : features[i]) fresh += covered.count(f) ? 0 : 1;
      if (fresh == 0) continue;
      const double ratio = fresh / cost[i];
      // Ties go to the name that sorts first, so the pick is stable across runs.
      if (best == variants.size() || ratio > best_ratio ||
          (ratio == best_ratio &&
           variants[i].Name(true) < variants[best].Name(true))) {
        best = i;
        best_ratio = ratio;
      }
    }
    if (best == variants.size()) break;
    taken[best] = true;
    sel.estimated_s += cost[best];
    covered.insert(features[best].begin(), features[best].end());
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    if (taken[i]) sel.chosen.push_back(i);
  }
  sel.features_covered = covered.size();
  return sel;
}

std::string BudgetSelection::Summary(size_t variants, double budget_s) const {
  return absl::StrFormat("ktstr budget: %d/%d variants, %.0f/%.0fs used, %d/%d configurations "
                         "covered",
                         chosen.size(), variants, estimated_s, budget_s, features_covered,
                         features_total);
}

}  // namespace ktstr::client
