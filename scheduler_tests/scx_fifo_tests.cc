// scx_fifo under ktstr: the healthy scheduler and each fault knob, one test each, all on the
// same 1n1l2c1t shape so one warm-pool shape serves them. Tests named `expect_<verdict>_...`
// exist to prove that ktstr catches scheduler bugs: they are EXPECTED to end with that verdict
// (//scheduler_tests:scx_fifo_e2e_itest asserts each one), so never run them as "must pass".
#include <chrono>

#include "guest_agent/testlib/ktstr_test.h"
#include "scheduler_tests/schedulers/sched_defs.h"

using namespace std::chrono_literals;
using ktstr::schedulers::kScxFifo;
using ktstr::schedulers::kScxFifoDegrade;
using ktstr::schedulers::kScxFifoExitNow;
using ktstr::schedulers::kScxFifoFailVerify;
using ktstr::schedulers::kScxFifoStall;

// (a) The steady scenario under the healthy FIFO: PASS, recorded as run under scx_fifo.
KTSTR_TEST(steady_scx_fifo, {.llcs = 1, .cores = 2, .threads = 1, .scheduler = &kScxFifo}) {
  return ktstr::scenarios::steady(ctx);
}

// (b) The same scenario under EEVDF: PASS.
KTSTR_TEST(steady_eevdf, {.llcs = 1, .cores = 2, .threads = 1}) {
  return ktstr::scenarios::steady(ctx);
}

// (c) Stall after 1000 inserts, 3 s watchdog: SCHED_EJECTED (runnable task stall). Bursty
// workers wake hundreds of times a second, so the 1000 inserts come within the first second
// or two; the duration leaves the watchdog time to fire before the scenario ends.
KTSTR_TEST(expect_ejected_stall, {.llcs = 1, .cores = 2, .threads = 1, .duration_s = 10,
                                  .scheduler = &kScxFifoStall}) {
  return ktstr::execute_defs(ctx, {ktstr::CgroupDef::named("cg_0").workers(4).work_type(
                                      ktstr::WorkType::bursty(2ms, 2ms))});
}

// (d) cg_1 degraded: FAIL of the test's gap check, the scheduler still attached. scx_fifo
// pulls the degraded queue on one dispatch in 16 with 1/8 slices while cg_0's four spinners
// saturate both CPUs. Measured under TCG (4 runs): cg_1's workers wait 380-530 ms between runs
// with 3 of them (cg_0's worst gap 50-60 ms; a healthy scx_fifo with 6 workers: 64 ms). The
// 200 ms limit sits ~2x below the degraded gaps and ~3x above healthy ones, and the worst
// degraded gap stays ~4x below ktstr's 2000 ms work-conservation watchdog (a worker gap over
// it kills the scheduler with SIGUSR2: SCHED_DIED instead of this check's FAIL; 16 or 4 cg_1
// workers reached 1.7-2.7 s gaps and tripped it).
KTSTR_TEST(expect_fail_degrade, {.llcs = 1, .cores = 2, .threads = 1, .duration_s = 5,
                                 .scheduler = &kScxFifoDegrade, .max_gap_ms = 200}) {
  return ktstr::execute_defs(ctx, {
                                      ktstr::CgroupDef::named("cg_0").workers(4),
                                      ktstr::CgroupDef::named("cg_1").workers(3),
                                  });
}

// (e) The verifier rejects the program: SCHED_NOT_ATTACHED with the verifier's message.
KTSTR_TEST(expect_not_attached_fail_verify,
           {.llcs = 1, .cores = 2, .threads = 1, .scheduler = &kScxFifoFailVerify}) {
  return ktstr::scenarios::steady(ctx);
}

// (f) The loader exits at once (status 3): SCHED_DIED.
KTSTR_TEST(expect_died_exit_now,
           {.llcs = 1, .cores = 2, .threads = 1, .scheduler = &kScxFifoExitNow}) {
  return ktstr::scenarios::steady(ctx);
}
