// A/B comparison of two runs (ktstr's dual-gate rule: a change counts only past both
// the metric's absolute and relative threshold): jobs are
// paired by "test topology scheduler flags"; for each registry metric of two passing jobs,
// a change is significant only when |b - a| >= the absolute gate AND |(b - a) / a| >= the
// relative gate; its direction comes from the metric's polarity.
#ifndef KTSTR_DAEMON_COMPARE_H_
#define KTSTR_DAEMON_COMPARE_H_

#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::daemon {

// `threshold_pct` > 0 replaces every metric's relative gate.
ktstr::v1::CompareRunsResponse CompareRuns(const ktstr::v1::Run& a, const ktstr::v1::Run& b,
                                           double threshold_pct);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_COMPARE_H_
