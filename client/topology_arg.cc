#include "client/topology_arg.h"

#include "absl/strings/str_cat.h"
#include "vmm/topology.h"

namespace ktstr::client {

// vmm owns the topology rules and the gauntlet presets, so `--topology` accepts exactly what
// a VM can be booted with, with the same messages the daemon would give.
absl::StatusOr<ktstr::v1::Topology> ParseTopologyArg(const std::string& s) {
  absl::StatusOr<vmm::Topology> t = vmm::FindPreset(s);
  if (!t.ok()) t = vmm::ParseTopology(s);
  if (!t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        t.status().message(), " (use N,L,C,T — NUMA nodes, LLCs, cores per LLC, threads per "
        "core — e.g. 1,2,4,1 or 1n2l4c1t, or a preset name such as tiny-2llc)"));
  }
  ktstr::v1::Topology out;
  out.set_numa_nodes(t->numa_nodes);
  out.set_llcs(t->llcs);
  out.set_cores_per_llc(t->cores_per_llc);
  out.set_threads_per_core(t->threads_per_core);
  return out;
}

}  // namespace ktstr::client
