// Framing of agent.proto messages on the guest channel, used by both ends.
//
//   u32 magic "KTSA" | u32 payload length | u32 crc32c(payload) | payload    (little-endian)
//
// FrameDecoder is a push parser: feed it whatever bytes arrived and pull complete frames or
// typed errors out. A bad magic makes it skip ahead to the next "KTSA"; a bad length or
// checksum drops that frame. Nothing it is fed can make it crash or grow without bound.
#ifndef KTSTR_GUEST_AGENT_WIRE_H_
#define KTSTR_GUEST_AGENT_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

namespace config {
// Largest payload either end accepts: a 1 MiB PutFile chunk plus generous protobuf overhead.
inline constexpr uint32_t kMaxPayloadBytes = 4u << 20;
// Largest PutFile chunk (agent.proto): keeps a frame well under kMaxPayloadBytes.
inline constexpr uint32_t kMaxPutChunkBytes = 1u << 20;
}  // namespace config

inline constexpr char kFrameMagic[4] = {'K', 'T', 'S', 'A'};
inline constexpr size_t kFrameHeaderBytes = 12;

// CRC-32C (Castagnoli), as used in the frame header and PutFile. `crc` chains calls.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

// Returns header + payload. The payload must be at most config::kMaxPayloadBytes.
std::string EncodeFrame(absl::string_view payload);

// Serializes and frames a message.
std::string EncodeMessage(const google::protobuf::MessageLite& msg);

// Why a frame was dropped. Closed set: callers switch on it.
enum class FrameErrorKind {
  kBadMagic,     // bytes that do not start a frame; `skipped` of them were discarded
  kTooLarge,     // declared length above the cap; the header was discarded, resync follows
  kBadChecksum,  // the payload did not match its crc32c; the whole frame was discarded
};

struct FrameError {
  FrameErrorKind kind;
  uint64_t skipped = 0;  // bytes discarded
  std::string Describe() const;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_payload = config::kMaxPayloadBytes)
      : max_payload_(max_payload) {}

  void Feed(absl::string_view bytes);

  // One decoded item: a payload, an error, or nothing (std::monostate) when more bytes are
  // needed.
  using Item = std::variant<std::monostate, std::string, FrameError>;
  Item Next();

  size_t buffered() const { return buf_.size() - pos_; }

 private:
  void Compact();

  uint32_t max_payload_;
  std::string buf_;
  size_t pos_ = 0;
};

// Checks a decoded HostToGuest for the rules agent.proto states (request id, required fields,
// size caps). Returns InvalidArgument with a message fit for an Error reply.
absl::Status ValidateHostToGuest(const v1::HostToGuest& msg);

// Parses and validates a payload as HostToGuest.
absl::StatusOr<v1::HostToGuest> ParseHostToGuest(absl::string_view payload);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_WIRE_H_
