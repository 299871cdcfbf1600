// Every canned scenario (ktstr's 14 public scenarios) as a test, on a small topology with
// 2 LLCs so the LLC-aligned ones run. Short by default; the fairness limits are ktstr's.
#include "guest_agent/testlib/ktstr_test.h"

#define KTSTR_CATALOG_TEST(scenario)                               \
  KTSTR_TEST(scenario, {.llcs = 2, .cores = 2, .duration_s = 2}) { \
    return ktstr::scenarios::scenario(ctx);                        \
  }

KTSTR_CATALOG_TEST(steady)
KTSTR_CATALOG_TEST(steady_llc)
KTSTR_CATALOG_TEST(oversubscribed)
KTSTR_CATALOG_TEST(cpuset_apply)
KTSTR_CATALOG_TEST(cpuset_clear)
KTSTR_CATALOG_TEST(cpuset_resize)
KTSTR_CATALOG_TEST(cgroup_add)
KTSTR_CATALOG_TEST(cgroup_remove)
KTSTR_CATALOG_TEST(affinity_change)
KTSTR_CATALOG_TEST(affinity_pinned)
KTSTR_CATALOG_TEST(host_contention)
KTSTR_CATALOG_TEST(mixed_workloads)
KTSTR_CATALOG_TEST(nested_steady)
KTSTR_CATALOG_TEST(nested_task_move)
