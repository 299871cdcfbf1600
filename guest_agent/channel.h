// Opening the agent's end of the channel: the virtio-serial port named "ktstr.agent" in the
// guest, or a unix socket for host-side tests.
#ifndef KTSTR_GUEST_AGENT_CHANNEL_H_
#define KTSTR_GUEST_AGENT_CHANNEL_H_

#include <string>

#include "absl/status/statusor.h"

namespace ktstr::agent {

inline constexpr char kChannelPortName[] = "ktstr.agent";

// Where the channel is. Parsed from --channel: "vport" (default, by port name),
// "vport:NAME", "unix:PATH" (connect), or "dev:PATH" (open a character device).
struct ChannelAddress {
  enum class Kind { kVirtioPort, kUnixSocket, kDevice };
  Kind kind = Kind::kVirtioPort;
  std::string value = kChannelPortName;
};
absl::StatusOr<ChannelAddress> ParseChannelAddress(const std::string& spec);

// Finds /dev/vportNpM whose /sys/class/virtio-ports/*/name is `name`.
absl::StatusOr<std::string> FindVirtioPort(const std::string& name, const std::string& sys_root = "/sys");

// Opens the channel read-write; the caller owns the fd.
absl::StatusOr<int> OpenChannel(const ChannelAddress& addr);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_CHANNEL_H_
