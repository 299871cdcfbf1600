// Scheduler definitions for KTSTR_TEST attributes: scx_fifo as is and with each fault knob.
// The knob variants exist to prove that ktstr's checks catch real scheduler bugs; a test using
// one expects the matching verdict (README.md has the table).
#ifndef KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCHED_DEFS_H_
#define KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCHED_DEFS_H_

#include "guest_agent/testlib/scheduler_def.h"

namespace ktstr::schedulers {

// The healthy global-FIFO scheduler (root/ops "scx_fifo").
inline const SchedulerDef kScxFifo = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
};

// Parks user tasks after 1000 inserts; a 3 s watchdog ejects it with "runnable task stall"
// within seconds instead of the default 30 s (+ RCU-stall races).
inline const SchedulerDef kScxFifoStall = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--stall-after=1000", "--timeout-ms=3000"},
};

// Starves the cgroup named "cg_1" under contention (fairness/starvation checks must fail).
inline const SchedulerDef kScxFifoDegrade = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--degrade=cg_1"},
};

// scx_bpf_error() on the 1000th insert: ejected with "scx_bpf_error".
inline const SchedulerDef kScxFifoError = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--error-after=1000"},
};

// Rejected by the verifier: never attaches.
inline const SchedulerDef kScxFifoFailVerify = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--fail-verify"},
};

// The loader exits at once with status 3: the scheduler died.
inline const SchedulerDef kScxFifoExitNow = {
    .name = "scx_fifo",
    .binary = SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--exit-now=3"},
};

}  // namespace ktstr::schedulers

#endif  // KTSTR_SCHEDULER_TESTS_SCHEDULERS_SCHED_DEFS_H_
