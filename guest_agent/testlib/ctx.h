// What a test body gets: the topology it runs on, the cgroup manager, the duration, the
// scheduler's pid and the merged checks.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_CTX_H_
#define KTSTR_GUEST_AGENT_TESTLIB_CTX_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "guest_agent/testlib/cgroup_manager.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/topology.h"

namespace ktstr {

struct Ctx {
  std::string test_name;
  TestTopology topo;
  CgroupOps* cgroups = nullptr;              // not owned; never null while a test runs
  std::chrono::milliseconds duration{2000};  // scenario length
  int workers_per_cgroup = 2;
  std::optional<pid_t> sched_pid;       // from SCHED_PID; unset under EEVDF
  std::chrono::milliseconds settle{0};  // pause before the first step
  Assert checks;                        // merged defaults -> scheduler -> test

  // True when there is no scheduler process to watch, or it is alive (not a zombie).
  bool SchedulerAlive() const;
};

// Set by the harness's SIGINT/SIGTERM handler: holds end early and the engine cleans up.
extern std::atomic<bool> g_interrupted;

// The running scheduler's name: /sys/kernel/sched_ext/root/ops when non-empty, else "eevdf".
std::string ActiveSchedulerName();

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_CTX_H_
