// The CPU topology as the test sees it (the guest's sysfs, or the host's in bare-metal mode),
// CPU sets and their "0-3,5" text form, and the cpuset helpers scenarios build on.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_TOPOLOGY_H_
#define KTSTR_GUEST_AGENT_TESTLIB_TOPOLOGY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr {

// A sorted, duplicate-free set of CPU ids.
using CpuSet = std::vector<int>;

// Parses the kernel's cpu-list syntax ("0-3,5,7-9", "" = empty). Errors name the bad token.
absl::StatusOr<CpuSet> ParseCpuList(absl::string_view text);
// The inverse: {0,1,2,3,5} -> "0-3,5"; {} -> "".
std::string FormatCpuList(const CpuSet& cpus);
// Sorted union / intersection / "a is a subset of b".
CpuSet CpuUnion(const CpuSet& a, const CpuSet& b);
CpuSet CpuIntersect(const CpuSet& a, const CpuSet& b);
bool CpuSubset(const CpuSet& a, const CpuSet& b);

struct CpuInfo {
  int cpu = 0;
  int llc = 0;   // index into TestTopology::llcs()
  int node = 0;  // NUMA node id
  int core = 0;  // index of the physical core (SMT siblings share it)
};

// The topology of the machine the test runs on. Immutable after construction.
class TestTopology {
 public:
  // Reads /sys/devices/system/{cpu,node} and restricts to the CPUs this process may use.
  static absl::StatusOr<TestTopology> FromSysfs(absl::string_view sysfs_root = "/sys");
  // A synthetic topology laid out as ktstr's VMs are: CPUs numbered node-major, then LLC,
  // core, thread. Used by unit tests and when sysfs is unreadable.
  static TestTopology FromSpec(int numa_nodes, int llcs, int cores_per_llc, int threads);

  const std::vector<CpuInfo>& cpus() const { return cpus_; }
  CpuSet all_cpus() const;
  int num_cpus() const { return static_cast<int>(cpus_.size()); }
  int num_llcs() const { return static_cast<int>(llc_cpus_.size()); }
  int num_numa_nodes() const { return static_cast<int>(node_cpus_.size()); }
  bool has_smt() const { return has_smt_; }

  // All CPUs but the last when there are more than 2: ktstr keeps one CPU for the root
  // cgroup (the harness, the scheduler's userspace) so workers never starve them.
  CpuSet usable_cpus() const;
  // Usable CPUs of LLC `llc` / NUMA node index `node`; empty when out of range.
  CpuSet llc_aligned_cpuset(int llc) const;
  CpuSet numa_aligned_cpuset(int node) const;
  // Usable CPUs split per LLC (LLCs without usable CPUs are left out).
  std::vector<CpuSet> split_by_llc() const;
  // `n` partitions of the usable CPUs, each widened by `frac` of a partition into its right
  // neighbour (so neighbours share CPUs). Error when there are fewer usable CPUs than `n`.
  absl::StatusOr<std::vector<CpuSet>> overlapping_cpusets(int n, double frac) const;
  int llc_of(int cpu) const;   // -1 when unknown
  int node_of(int cpu) const;  // -1 when unknown
  // "1n2l4c1t"-style summary plus the CPU list.
  std::string DebugString() const;

 private:
  void Index();
  std::vector<CpuInfo> cpus_;      // sorted by cpu id
  std::vector<CpuSet> llc_cpus_;   // by LLC index
  std::vector<CpuSet> node_cpus_;  // by node index (dense)
  bool has_smt_ = false;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_TOPOLOGY_H_
