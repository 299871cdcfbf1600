// The CPU topology a test VM must present to its guest, exactly.
//
// A Topology is {numa_nodes, llcs, cores_per_llc, threads_per_core}. LLCs are split evenly
// over NUMA nodes, so `llcs` must be a multiple of `numa_nodes`. Text forms:
//   "1n2l4c1t"  (Topology::ToString, ParseTopology)
//   "1,2,4,1"   (the shell form, ParseTopology)
#ifndef KTSTR_VMM_TOPOLOGY_H_
#define KTSTR_VMM_TOPOLOGY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::vmm {

namespace config {
// QEMU's q35 addresses at most 255 xAPIC ids without interrupt remapping, and the gauntlet's
// largest preset (max-cpu) has 252 CPUs: this is ktstr's ceiling.
inline constexpr int kMaxCpus = 252;
// The guest kernel plus initramfs need this much per NUMA node to boot (measured: the
// 7.3 cloud kernel boots in 128 MiB per node; less and node-local allocations fail early).
inline constexpr int kMinMemoryMbPerNode = 128;
// Below this the default kernel does not reach /init at all.
inline constexpr int kMinMemoryMb = 256;
}  // namespace config

struct Topology {
  int numa_nodes = 1;
  int llcs = 1;
  int cores_per_llc = 1;
  int threads_per_core = 1;

  int TotalCpus() const { return llcs * cores_per_llc * threads_per_core; }
  int LlcsPerNode() const { return llcs / numa_nodes; }
  int CpusPerLlc() const { return cores_per_llc * threads_per_core; }
  int CpusPerNode() const { return LlcsPerNode() * CpusPerLlc(); }

  // "1n2l4c1t".
  std::string ToString() const;
  // "1,2,4,1".
  std::string ToShellForm() const;
  // OK, or InvalidArgument naming the first problem.
  absl::Status Validate() const;

  friend bool operator==(const Topology&, const Topology&) = default;
};

// Parses "1n2l4c1t" or "1,2,4,1" and validates the result.
absl::StatusOr<Topology> ParseTopology(absl::string_view text);

// Memory for a VM of this topology: at least config::kMinMemoryMb in total and
// config::kMinMemoryMbPerNode per node, and divisible by the node count (each node gets an
// equal share, backed by its own file).
absl::Status ValidateMemory(const Topology& topology, int memory_mb);

struct TopologyPreset {
  absl::string_view name;
  Topology topology;
};

// The 24 x86_64 gauntlet presets, in ktstr's order (tiny-1llc … numa4-12llc).
const std::vector<TopologyPreset>& AllPresets();
// A preset by name, or NotFound listing the known names.
absl::StatusOr<Topology> FindPreset(absl::string_view name);

// CPU lists in the kernel's sysfs format ("0-3,8-11"); used to describe what a guest should
// see for a topology.
std::string FormatCpuList(const std::vector<int>& cpus);

// What the guest's sysfs must show for `topology` (QEMU numbers CPUs node-major, then LLC,
// core, thread; Linux keeps that order). Index = CPU number.
struct ExpectedCpu {
  int node;
  std::string llc_cpus;         // cpuN/cache/index3/shared_cpu_list
  std::string thread_siblings;  // cpuN/topology/thread_siblings_list
};
std::vector<ExpectedCpu> ExpectedGuestCpus(const Topology& topology);
// nodeN/cpulist for each node.
std::vector<std::string> ExpectedNodeCpuLists(const Topology& topology);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_TOPOLOGY_H_
