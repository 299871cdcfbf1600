#include "daemon/shape.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "vmm/topology.h"

namespace ktstr::daemon {
namespace {

// The proto carries uint32 counts; vmm's Topology uses int. Any single count above the CPU
// ceiling is invalid anyway, and rejecting it first keeps the products from overflowing.
bool CountsInRange(const ktstr::v1::Topology& t) {
  for (uint32_t n : {t.numa_nodes(), t.llcs(), t.cores_per_llc(), t.threads_per_core()}) {
    if (n > static_cast<uint32_t>(vmm::config::kMaxCpus)) return false;
  }
  return true;
}

vmm::Topology ToVmm(const ktstr::v1::Topology& t) {
  return vmm::Topology{.numa_nodes = static_cast<int>(t.numa_nodes()),
                       .llcs = static_cast<int>(t.llcs()),
                       .cores_per_llc = static_cast<int>(t.cores_per_llc()),
                       .threads_per_core = static_cast<int>(t.threads_per_core())};
}

}  // namespace

// The rules are vmm's (the layer that must boot the shape); this only adapts the proto and
// says which field was wrong in the client's terms.
absl::Status ValidateShape(const ktstr::v1::VmShape& shape) {
  const auto& t = shape.topology();
  if (!CountsInRange(t)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid topology ", TopologyString(t),
                                                   ": a count exceeds the limit of ",
                                                   vmm::config::kMaxCpus, " CPUs"));
  }
  vmm::Topology topo = ToVmm(t);
  if (absl::Status st = topo.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid topology ", TopologyString(t), ": ", st.message()));
  }
  if (shape.memory_mb() != 0) {
    if (shape.memory_mb() > (1u << 30)) {
      return absl::InvalidArgumentError(absl::StrCat("memory_mb ", shape.memory_mb(),
                                                     " is not a plausible VM size"));
    }
    if (absl::Status st = vmm::ValidateMemory(topo, static_cast<int>(shape.memory_mb()));
        !st.ok()) {
      return absl::InvalidArgumentError(st.message());
    }
  }
  return absl::OkStatus();
}

uint32_t VcpuCount(const ktstr::v1::Topology& t) {
  return t.llcs() * t.cores_per_llc() * t.threads_per_core();
}

uint32_t EffectiveMemoryMb(const ktstr::v1::VmShape& shape) {
  if (shape.memory_mb() != 0) return shape.memory_mb();
  const uint32_t nodes = std::max<uint32_t>(shape.topology().numa_nodes(), 1);
  uint32_t mb = std::max({VcpuCount(shape.topology()) * config::kMemoryPerCpuMb,
                          static_cast<uint32_t>(vmm::config::kMinMemoryMb),
                          nodes * static_cast<uint32_t>(vmm::config::kMinMemoryMbPerNode)});
  return (mb + nodes - 1) / nodes * nodes;  // each node gets an equal share (vmm rule)
}

std::string TopologyString(const ktstr::v1::Topology& t) {
  return absl::StrCat(t.numa_nodes(), "n", t.llcs(), "l", t.cores_per_llc(), "c",
                      t.threads_per_core(), "t");
}

absl::Status ValidateKernelArgs(const google::protobuf::RepeatedPtrField<std::string>& args) {
  if (args.size() > config::kMaxKernelArgs) {
    return absl::InvalidArgumentError(absl::StrCat("kernel_args: ", args.size(),
                                                   " args, at most ", config::kMaxKernelArgs));
  }
  for (const std::string& a : args) {
    if (a.empty() || a.size() > config::kMaxKernelArgBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kernel_args: '", a, "' must be 1 to ", config::kMaxKernelArgBytes, " bytes"));
    }
    for (char c : a) {
      if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || c == 0x7f) {
        return absl::InvalidArgumentError(absl::StrCat(
            "kernel_args: '", a, "' is not one word (no spaces, quotes or control characters)"));
      }
    }
    if (absl::StartsWith(a, "init=") || absl::StartsWith(a, "rdinit=")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kernel_args: '", a, "' would replace ktstr's guest agent as the first process"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ktstr::daemon
