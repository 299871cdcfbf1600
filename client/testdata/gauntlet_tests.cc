// A ktstr test binary for the gauntlet's client tests: tests whose gauntlet constraints and
// flag profiles give a known expansion. Its tests are run by ktstrd's fake executor (which
// decides a verdict from the name: "fail" -> FAIL, "skip" -> SKIP, else PASS), never in a
// VM, so the bodies only have to exist.
#include "guest_agent/testlib/ktstr_test.h"

namespace {

// scx_fifo (found through $KTSTR_SCHEDULER_PATH) with two flags; steal requires llc, so the
// profiles are default, llc and llc+steal.
const ktstr::SchedulerDef kFlagged = {
    .name = "scx_fifo",
    .binary = ktstr::SchedulerSpec::Discover("scx_fifo"),
    .sched_args = {"--base"},
    .flags = {{.name = "llc", .args = {"--llc"}},
              {.name = "steal", .args = {"--steal"}, .requires_flags = {"llc"}}},
};

}  // namespace

// EEVDF, at most 2 LLCs: tiny-1llc, tiny-2llc, smt-2llc.
KTSTR_TEST(eevdf_pass, {.llcs = 1, .cores = 2, .max_llcs = 2}) {
  return ktstr::scenarios::steady(ctx);
}

// SMT only, at most 3 LLCs: smt-2llc (8 CPUs), smt-3llc (12 CPUs); 3 profiles each.
KTSTR_TEST(sched_fail, {.llcs = 2, .cores = 2, .threads = 2, .scheduler = &kFlagged,
                        .max_llcs = 3, .requires_smt = true}) {
  return ktstr::scenarios::steady(ctx);
}

// Exactly 2 LLCs: tiny-2llc, smt-2llc.
KTSTR_TEST(maybe_skip, {.llcs = 2, .cores = 2, .min_llcs = 2, .max_llcs = 2}) {
  return ktstr::scenarios::steady(ctx);
}

// Runs on the host: never part of a gauntlet.
KTSTR_TEST(on_host, {.host_only = true}) { return ktstr::scenarios::steady(ctx); }
