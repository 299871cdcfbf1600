// Scheduler definitions (ktstr's Scheduler / #[derive(Scheduler)]): which binary, its
// arguments, feature flags and their power-set profiles, sysctls, kernel args, topology
// defaults and constraints, and check overrides. Starting the scheduler in the guest is the
// agent's job; this is the data the merge chain and the daemon read.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_SCHEDULER_DEF_H_
#define KTSTR_GUEST_AGENT_TESTLIB_SCHEDULER_DEF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "guest_agent/testlib/checks.h"

namespace ktstr {

// How the scheduler is obtained.
struct SchedulerSpec {
  enum class Kind { kEevdf, kDiscover, kPath, kKernelBuiltin };
  Kind kind = Kind::kEevdf;
  std::string name_or_path;          // kDiscover: "scx_name"; kPath: a path
  std::vector<std::string> enable;   // kKernelBuiltin: shell lines that enable it
  std::vector<std::string> disable;  // kKernelBuiltin: shell lines that disable it
  static SchedulerSpec Eevdf() { return {}; }
  static SchedulerSpec Discover(std::string name) { return {Kind::kDiscover, std::move(name)}; }
  static SchedulerSpec Path(std::string path) { return {Kind::kPath, std::move(path)}; }
  static SchedulerSpec KernelBuiltin(std::vector<std::string> enable,
                                     std::vector<std::string> disable) {
    return {Kind::kKernelBuiltin, "", std::move(enable), std::move(disable)};
  }
};

// A scheduler feature flag: the arguments it adds and the flags it needs.
struct FlagDecl {
  std::string name;                         // kebab-case, e.g. "llc"
  std::vector<std::string> args;            // appended to the scheduler's argv
  std::vector<std::string> requires_flags;  // e.g. steal requires llc
};

struct Sysctl {
  std::string key;  // e.g. "kernel.sched_rt_runtime_us"
  std::string value;
};

// Topology used when a test does not set it (ktstr's scheduler default: 1,1,2,1).
struct TopologyDefaults {
  uint32_t numa_nodes = 1, llcs = 1, cores = 2, threads = 1;
};

// Gauntlet constraints; unset fields inherit (test -> scheduler -> ktstr defaults).
struct TopologyConstraints {
  std::optional<uint32_t> min_numa_nodes, max_numa_nodes, min_llcs, max_llcs, min_cpus, max_cpus;
  std::optional<bool> requires_smt;
};

struct SchedulerDef {
  std::string name;  // "" only for EEVDF
  SchedulerSpec binary;
  std::vector<std::string> sched_args;  // always passed
  std::vector<FlagDecl> flags;
  std::vector<Sysctl> sysctls;     // written in the guest before start
  std::vector<std::string> kargs;  // guest kernel command line additions
  Assert checks;                   // scheduler-level check overrides
  std::string cgroup_parent;       // --cell-parent-cgroup when set
  TopologyDefaults topology;
  TopologyConstraints constraints;
  std::string config_file;  // --config /include-files/<file> when set
};

// The kernel's default scheduler: what tests without `.scheduler` run under.
extern const SchedulerDef kEevdf;

// Every flag combination: the power set of `def.flags`, keeping only sets whose flags'
// requirements are in the set, always containing `required` and never `excluded`. Errors
// name unknown flags and contradictions. Ordered by size, then declaration order.
absl::StatusOr<std::vector<std::vector<std::string>>> FlagProfiles(
    const SchedulerDef& def, const std::vector<std::string>& required,
    const std::vector<std::string>& excluded);
// "llc+steal", or "default" for the empty profile.
std::string ProfileName(const std::vector<std::string>& profile);
// argv after the binary: --config, --cell-parent-cgroup, sched_args, extra args, flag args.
std::vector<std::string> SchedulerArgs(const SchedulerDef& def,
                                       const std::vector<std::string>& extra_sched_args,
                                       const std::vector<std::string>& profile);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_SCHEDULER_DEF_H_
