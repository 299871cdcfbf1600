#include "daemon/shape.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ktstr::daemon {

absl::Status ValidateShape(const ktstr::v1::VmShape& shape) {
  const auto& t = shape.topology();
  if (t.numa_nodes() < 1 || t.llcs() < 1 || t.cores_per_llc() < 1 ||
      t.threads_per_core() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid topology ", TopologyString(t),
        ": numa_nodes, llcs, cores_per_llc and threads_per_core must all be >= 1"));
  }
  if (t.llcs() % t.numa_nodes() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid topology ", TopologyString(t), ": llcs (", t.llcs(),
        ") must be a multiple of numa_nodes (", t.numa_nodes(),
        "): an LLC never straddles NUMA nodes"));
  }
  uint64_t cpus = uint64_t{t.llcs()} * t.cores_per_llc() * t.threads_per_core();
  if (cpus > config::kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrCat("invalid topology ", TopologyString(t),
                                                   ": ", cpus, " CPUs exceeds the limit of ",
                                                   config::kMaxCpus));
  }
  return absl::OkStatus();
}

uint32_t VcpuCount(const ktstr::v1::Topology& t) {
  return t.llcs() * t.cores_per_llc() * t.threads_per_core();
}

uint32_t EffectiveMemoryMb(const ktstr::v1::VmShape& shape) {
  if (shape.memory_mb() != 0) return shape.memory_mb();
  return std::max(VcpuCount(shape.topology()) * config::kMemoryPerCpuMb, config::kMinMemoryMb);
}

std::string TopologyString(const ktstr::v1::Topology& t) {
  return absl::StrCat(t.numa_nodes(), "n", t.llcs(), "l", t.cores_per_llc(), "c",
                      t.threads_per_core(), "t");
}

}  // namespace ktstr::daemon
