#include "guest_agent/testlib/stats.h"

#include <vector>

#include "gtest/gtest.h"

namespace ktstr::stats {
namespace {

TEST(PercentileTest, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  EXPECT_EQ(Percentile(v, 99), 99);
  EXPECT_EQ(Percentile(v, 50), 50);
  EXPECT_EQ(Percentile(v, 100), 100);
  EXPECT_EQ(Percentile(v, 0), 1);
  EXPECT_EQ(Percentile({1, 2, 3, 4}, 50), 2);
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({}, 99), 0);
}

TEST(CvTest, PopulationStddevOverMean) {
  EXPECT_DOUBLE_EQ(CoefficientOfVariation({10, 10, 10}), 0);
  // mean 5, population stddev 3 -> 0.6
  EXPECT_NEAR(CoefficientOfVariation({2, 8}), 0.6, 1e-12);
  EXPECT_NEAR(CoefficientOfVariation({2, 4, 4, 4, 5, 5, 7, 9}), 2.0 / 5.0, 1e-12);
  EXPECT_EQ(CoefficientOfVariation({5}), 0);
  EXPECT_EQ(CoefficientOfVariation({0, 0}), 0);
}

TEST(SpreadTest, MaxMinusMin) {
  EXPECT_DOUBLE_EQ(Spread({48.0, 51.5, 60.25}), 12.25);
  EXPECT_EQ(Spread({42}), 0);
  EXPECT_EQ(Spread({}), 0);
  EXPECT_DOUBLE_EQ(Mean({1, 2, 3, 6}), 3);
}

}  // namespace
}  // namespace ktstr::stats
