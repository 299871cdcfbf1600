// VM shape rules the daemon enforces at submission (topology.proto's rules), the
// resources a shape costs in admission, and the guest kernel args a job may add.
#ifndef KTSTR_DAEMON_SHAPE_H_
#define KTSTR_DAEMON_SHAPE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/repeated_field.h"
#include "proto/ktstr/v1/topology.pb.h"

namespace ktstr::daemon {

namespace config {
// Memory a shape gets when it asks for 0: max(cpus * 64, vmm's minimums) MiB, rounded up to
// a multiple of the node count (topology.proto's rule; vmm/topology.h has the minimums).
inline constexpr uint32_t kMemoryPerCpuMb = 64;
// Bounds on scheduler kernel args: generous for real use (nosmt, isolcpus=..., a few
// debug knobs), small enough that the kernel's 2 KiB command line always holds them.
inline constexpr int kMaxKernelArgs = 16;
inline constexpr size_t kMaxKernelArgBytes = 96;
}  // namespace config

// INVALID_ARGUMENT with the rule that failed (vmm's topology and memory rules), e.g. "llcs (3) must be a multiple of
// numa_nodes (2): an LLC never straddles NUMA nodes".
absl::Status ValidateShape(const ktstr::v1::VmShape& shape);
// INVALID_ARGUMENT unless every arg is one command-line word (no spaces, quotes or control
// characters: they become part of QEMU's -append string) that does not replace what ktstr
// itself boots with (init=/rdinit= would start something other than the guest agent).
absl::Status ValidateKernelArgs(const google::protobuf::RepeatedPtrField<std::string>& args);
uint32_t VcpuCount(const ktstr::v1::Topology& t);
uint32_t EffectiveMemoryMb(const ktstr::v1::VmShape& shape);
// "1n2l4c1t".
std::string TopologyString(const ktstr::v1::Topology& t);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SHAPE_H_
