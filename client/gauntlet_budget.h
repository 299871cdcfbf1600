// The budget selection of ktstr (the Rust original) for the gauntlet: from all variants,
// greedily pick the one that adds the most not-yet-covered configuration features per
// estimated second and still fits the remaining budget, until nothing fits or adds coverage.
// The result is a subset that covers as many configurations as the time allows, not the
// first N variants.
//
// Features of a variant (named, not ktstr's hashed bit buckets, so every test, scheduler
// and flag counts on its own): test, scheduler (or eevdf), each active profile flag (or
// none), CPU-count bucket, LLC bucket, NUMA bucket, SMT, expect_err, duration bucket, kernel.
// Estimated cost, as ktstr: 10 s boot + 1 s per 10 vCPUs above 16 + duration + 2 s.
#ifndef KTSTR_CLIENT_GAUNTLET_BUDGET_H_
#define KTSTR_CLIENT_GAUNTLET_BUDGET_H_

#include <set>
#include <string>
#include <vector>

#include "client/gauntlet_plan.h"

namespace ktstr::client {

std::set<std::string> VariantFeatures(const GauntletVariant& v);
double EstimatedSeconds(const GauntletVariant& v);

struct BudgetSelection {
  std::vector<size_t> chosen;  // indices into the variants, in their original order
  double estimated_s = 0;      // of the chosen
  size_t features_covered = 0;
  size_t features_total = 0;   // over all variants
  // "ktstr budget: 12/180 variants, 295/300s used, 38/38 configurations covered"
  std::string Summary(size_t variants, double budget_s) const;
};

BudgetSelection SelectWithinBudget(const std::vector<GauntletVariant>& variants, double budget_s);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_GAUNTLET_BUDGET_H_
