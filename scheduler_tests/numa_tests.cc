// NUMA placement on a two-node guest: one cgroup per node, each bound (MPOL_BIND) to its
// node's memory, sweeping a 4 MiB buffer it allocated under that policy. ktstr's page-locality check (min_page_locality)
// reads every worker's /proc/self/numa_maps at the end; the VM test asserts the measured
// pages and locality (daemon/ktstrd_vm_itest.cc).
#include "guest_agent/testlib/ktstr_test.h"

using ktstr::CgroupDef;
using ktstr::CpusetSpec;
using ktstr::MemPolicy;
using ktstr::WorkType;

// 2n2l1c1t: CPU 0 on node 0, CPU 1 on node 1 (both usable: ktstr keeps a CPU back only
// above 2). 1 GiB per node.
KTSTR_TEST(numa_bind_per_node, {.numa_nodes = 2,
                                .llcs = 2,
                                .cores = 1,
                                .memory_mb = 2048,
                                .duration_s = 2,
                                .min_page_locality = 0.9}) {
  return ktstr::execute_defs(
      ctx, {
               CgroupDef::named("node0")
                   .workers(1)
                   .with_cpuset(CpusetSpec::Numa(0))
                   .mem_policy(MemPolicy::Bind({0}))
                   .work_type(WorkType::cache_pressure(4096)),
               CgroupDef::named("node1")
                   .workers(1)
                   .with_cpuset(CpusetSpec::Numa(1))
                   .mem_policy(MemPolicy::Bind({1}))
                   .work_type(WorkType::cache_pressure(4096)),
           });
}
