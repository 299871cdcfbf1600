// The work loops run inside forked worker processes (internal to the library).
#ifndef KTSTR_GUEST_AGENT_TESTLIB_WORK_LOOPS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_WORK_LOOPS_H_

#include <atomic>
#include <cstdint>

#include "guest_agent/testlib/topology.h"
#include "guest_agent/testlib/work_types.h"
#include "guest_agent/testlib/worker_report.h"

namespace ktstr::internal {

// Words shared by the workers of one cooperating group (a pair, a fan-out, a mutex convoy),
// in MAP_SHARED memory. Futex words are 32-bit.
struct alignas(64) GroupWords {
  std::atomic<uint32_t> turn;      // FutexPingPong: whose turn (0/1)
  std::atomic<uint32_t> seq;       // fan-out generation
  std::atomic<uint32_t> mutex;     // MutexContention: 0 free, 1 locked, 2 locked + waiters
  std::atomic<uint64_t> stamp_ns;  // CLOCK_MONOTONIC of the last wake
};

struct WorkLoopEnv {
  const WorkType* work = nullptr;
  int role = 0;  // index within the cooperating group (0 = messenger/first)
  GroupWords* group = nullptr;
  int pipe_in = -1;   // pair types: read from partner
  int pipe_out = -1;  // pair types: write to partner
  CpuSet allowed;     // CPUs the worker may use at start (AffinityChurn)
  Telemetry* t = nullptr;
};

// Runs the loop until t->stop_requested(). Every blocking call is bounded (~100 ms) so a
// stop request is always seen.
void RunWorkLoop(WorkLoopEnv& env);

}  // namespace ktstr::internal

#endif  // KTSTR_GUEST_AGENT_TESTLIB_WORK_LOOPS_H_
