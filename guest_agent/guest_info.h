// What the guest knows about itself for HelloReply: kernel release, CPU/LLC/NUMA topology as
// sysfs shows it, memory, and the sched_ext state. Roots are parameters so tests can point
// them at a fake tree.
#ifndef KTSTR_GUEST_AGENT_GUEST_INFO_H_
#define KTSTR_GUEST_AGENT_GUEST_INFO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

// Parses a kernel cpu list ("0-3,8,10-11") into CPU numbers; empty input is an empty list.
absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view list);

// Reads the topology from `sys_root` (normally "/sys") and MemTotal from `proc_root`.
absl::StatusOr<v1::GuestTopology> ReadGuestTopology(const std::string& sys_root = "/sys",
                                                    const std::string& proc_root = "/proc");

struct SchedExtStatus {
  v1::SchedExtState state = v1::SCHED_EXT_STATE_ABSENT;
  std::string ops;  // root/ops when enabled
};
SchedExtStatus ReadSchedExt(const std::string& sys_root = "/sys");

// Reads a whole small file, trimmed of trailing whitespace.
absl::StatusOr<std::string> ReadTrimmed(const std::string& path);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_GUEST_INFO_H_
