// Small statistics used by the checks: percentiles, mean, coefficient of variation, spread.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_STATS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_STATS_H_

#include <cstdint>
#include <vector>

namespace ktstr::stats {

// Nearest-rank percentile (p in [0,100]) of unsorted values; 0 for an empty input.
// p=50 of {1,2,3,4} is 2; p=99 of 1..100 is 99.
double Percentile(std::vector<double> values, double p);
double Mean(const std::vector<double>& values);
// Population standard deviation / mean; 0 when fewer than 2 values or the mean is 0.
double CoefficientOfVariation(const std::vector<double>& values);
// max - min; 0 for fewer than 2 values.
double Spread(const std::vector<double>& values);

}  // namespace ktstr::stats

#endif  // KTSTR_GUEST_AGENT_TESTLIB_STATS_H_
