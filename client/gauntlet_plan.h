// The gauntlet expansion, as in ktstr (the Rust original): every selected test × every
// topology preset satisfying the test's gauntlet constraints and the vCPU cap × every flag
// profile of its scheduler × every kernel. Pure: no daemon, no upload; `--dry-run` prints it.
//
// Rules:
//   - host_only tests never expand (listed in host_only).
//   - a preset runs a test only when numa nodes, LLCs and CPUs are within the test's
//     [min, max] (0 max = unbounded) and, if the test requires SMT, threads_per_core >= 2;
//     the others are listed per test with the first failed rule.
//   - a preset with more vCPUs than the cap is skipped and counted (over_cap), never silently.
//   - tests without a sched_ext scheduler (EEVDF) have the single profile "default".
//   - --presets / --profiles names must exist (a preset in vmm::AllPresets(), a profile of at
//     least one selected test), else INVALID_ARGUMENT listing the known names.
#ifndef KTSTR_CLIENT_GAUNTLET_PLAN_H_
#define KTSTR_CLIENT_GAUNTLET_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/test_list.pb.h"
#include "proto/ktstr/v1/topology.pb.h"
#include "vmm/topology.h"

namespace ktstr::client {

// One test binary and its `--ktstr-list`.
struct GauntletBinary {
  std::string path;
  ktstr::v1::TestList list;
};

struct GauntletSelection {
  std::string filter;                 // substring of the test name; "" = all
  std::vector<std::string> presets;   // empty = all
  std::vector<std::string> profiles;  // empty = all
  std::vector<std::string> kernels;   // empty = the daemon's default (one, unnamed)
  uint32_t max_vcpus = 0;             // presets with more vCPUs are skipped; 0 = no cap
};

struct GauntletVariant {
  size_t binary = 0;  // index into the GauntletBinary list
  const ktstr::v1::ListedTest* test = nullptr;
  std::string preset;
  ktstr::v1::Topology topology;
  // The scheduler's profile; null for an EEVDF test (profile name "default").
  const ktstr::v1::ListedFlagProfile* profile = nullptr;
  std::string kernel;  // "" = the daemon's default

  std::string profile_name() const { return profile ? profile->name() : "default"; }
  // "gauntlet/TEST/PRESET/PROFILE", plus "/KERNEL" when several kernels were asked for.
  std::string Name(bool with_kernel) const;
};

struct GauntletSkip {
  std::string test;
  std::string preset;
  std::string reason;  // e.g. "2 NUMA nodes > max_numa_nodes 1"
};

struct GauntletPlan {
  std::vector<GauntletVariant> variants;  // test, preset, profile, kernel order
  std::vector<GauntletSkip> constraint_skips;
  // Presets over the vCPU cap (in preset order) and the variants they would have made.
  std::vector<std::string> over_cap;
  size_t over_cap_variants = 0;
  std::vector<std::string> host_only;  // tests that never expand
  size_t tests_selected = 0;           // matching the filter, host-only included
  std::vector<std::string> kernels;    // each once, in the order given; empty = the default
  bool several_kernels = false;
};

// The first gauntlet constraint `topology` breaks for `test`, or nullopt when it satisfies all.
std::optional<std::string> ConstraintViolation(const ktstr::v1::ListedTest& test,
                                               const vmm::Topology& topology);

absl::StatusOr<GauntletPlan> PlanGauntlet(const std::vector<GauntletBinary>& binaries,
                                          const GauntletSelection& selection);

// What --dry-run prints: the variant count and its factors, every variant, and every skipped
// preset with its reason.
std::string FormatPlan(const GauntletPlan& plan, const std::vector<GauntletBinary>& binaries,
                       const GauntletSelection& selection);

// What --dry-run --json prints, for tooling: {"vcpu_cap", "variants": [{name, binary, test,
// preset, topology{numa_nodes, llcs, cores_per_llc, threads_per_core}, vcpus, profile, kernel}],
// "over_cap": {presets, variants}, "constraint_skips": [{test, preset, reason}], "host_only"}.
// kernel "" = the daemon's default.
std::string FormatPlanJson(const GauntletPlan& plan, const std::vector<GauntletBinary>& binaries,
                           const GauntletSelection& selection);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_GAUNTLET_PLAN_H_
