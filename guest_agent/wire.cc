#include "guest_agent/wire.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr::agent {
namespace {

// Reflected CRC-32C tables (polynomial 0x82F63B78) for slicing-by-8: eight bytes per step,
// which matters in the guest, where every instruction is emulated under TCG.
using Crc32cTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Crc32cTables MakeCrc32cTables() {
  Crc32cTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  return t;
}
constexpr Crc32cTables kCrc32c = MakeCrc32cTables();

void PutLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

bool IsAbsolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

}  // namespace

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  crc = ~crc;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  while (n >= 8) {
    uint32_t lo = crc ^ (static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24);
    crc = kCrc32c[7][lo & 0xff] ^ kCrc32c[6][(lo >> 8) & 0xff] ^ kCrc32c[5][(lo >> 16) & 0xff] ^
          kCrc32c[4][lo >> 24] ^ kCrc32c[3][p[4]] ^ kCrc32c[2][p[5]] ^ kCrc32c[1][p[6]] ^
          kCrc32c[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = kCrc32c[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string EncodeFrame(absl::string_view payload) {
  std::string out(kFrameHeaderBytes + payload.size(), '\0');
  std::memcpy(out.data(), kFrameMagic, 4);
  PutLe32(out.data() + 4, static_cast<uint32_t>(payload.size()));
  PutLe32(out.data() + 8, Crc32c(payload));
  std::memcpy(out.data() + kFrameHeaderBytes, payload.data(), payload.size());
  return out;
}

std::string EncodeMessage(const google::protobuf::MessageLite& msg) {
  return EncodeFrame(msg.SerializeAsString());
}

std::string FrameError::Describe() const {
  switch (kind) {
    case FrameErrorKind::kBadMagic:
      return absl::StrFormat("bad frame magic: skipped %d bytes to resynchronise", skipped);
    case FrameErrorKind::kTooLarge:
      return absl::StrFormat("frame length above the %d-byte cap: header dropped",
                             config::kMaxPayloadBytes);
    case FrameErrorKind::kBadChecksum:
      return absl::StrFormat("frame crc32c mismatch: %d bytes dropped", skipped);
  }
  return "unknown frame error";
}

void FrameDecoder::Feed(absl::string_view bytes) {
  Compact();
  buf_.append(bytes.data(), bytes.size());
}

void FrameDecoder::Compact() {
  // Drop consumed bytes once they dominate, so the buffer stays bounded by one frame.
  if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > (64u << 10))) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

FrameDecoder::Item FrameDecoder::Next() {
  const size_t avail = buf_.size() - pos_;
  if (avail == 0) return std::monostate{};
  const char* p = buf_.data() + pos_;

  // Resynchronise: anything before a magic is garbage. A partial magic at the end may be
  // the start of a real frame, so keep it.
  if (avail < 4 || std::memcmp(p, kFrameMagic, 4) != 0) {
    size_t skip = 0;
    while (skip < avail) {
      size_t left = avail - skip;
      size_t cmp = left < 4 ? left : 4;
      if (std::memcmp(p + skip, kFrameMagic, cmp) == 0) break;
      ++skip;
    }
    if (skip == 0) return std::monostate{};  // a partial magic: wait for more
    pos_ += skip;
    return FrameError{FrameErrorKind::kBadMagic, skip};
  }
  if (avail < kFrameHeaderBytes) return std::monostate{};
  const uint32_t len = GetLe32(p + 4);
  const uint32_t crc = GetLe32(p + 8);
  if (len > max_payload_) {
    // Drop only the magic so a real frame hidden inside the bogus "payload" is still found.
    pos_ += 4;
    return FrameError{FrameErrorKind::kTooLarge, 4};
  }
  if (avail < kFrameHeaderBytes + len) return std::monostate{};
  absl::string_view payload(p + kFrameHeaderBytes, len);
  if (Crc32c(payload) != crc) {
    // Skip just the magic: a corrupted length must not swallow the frames after it.
    pos_ += 4;
    return FrameError{FrameErrorKind::kBadChecksum, kFrameHeaderBytes + len};
  }
  std::string out(payload);
  pos_ += kFrameHeaderBytes + len;
  return out;
}

absl::Status ValidateHostToGuest(const v1::HostToGuest& msg) {
  if (msg.request_id() == 0) return Invalid("request_id must be > 0");
  switch (msg.msg_case()) {
    case v1::HostToGuest::kHello:
    case v1::HostToGuest::kShutdown:
    case v1::HostToGuest::kPing:
      return absl::OkStatus();
    case v1::HostToGuest::kSetTime:
      if (msg.set_time().unix_ns() <= 0) return Invalid("set_time.unix_ns must be > 0");
      return absl::OkStatus();
    case v1::HostToGuest::kPutFile: {
      const auto& p = msg.put_file();
      if (!IsAbsolute(p.path())) return Invalid("put_file.path must be absolute");
      if (p.path().find('\0') != std::string::npos) return Invalid("put_file.path has NUL");
      if (p.data().size() > config::kMaxPutChunkBytes)
        return Invalid(absl::StrCat("put_file chunk above ", config::kMaxPutChunkBytes, " bytes"));
      if (p.mode() > 07777) return Invalid("put_file.mode has bits beyond 07777");
      return absl::OkStatus();
    }
    case v1::HostToGuest::kExec: {
      const auto& e = msg.exec();
      if (e.argv_size() == 0 || e.argv(0).empty()) return Invalid("exec.argv is empty");
      for (const auto& a : e.argv())
        if (a.find('\0') != std::string::npos) return Invalid("exec.argv has NUL");
      for (const auto& [k, v] : e.env())
        if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos ||
            v.find('\0') != std::string::npos)
          return Invalid(absl::StrCat("exec.env has a bad name or value: ", k));
      if (!e.cwd().empty() && !IsAbsolute(e.cwd())) return Invalid("exec.cwd must be absolute");
      if (e.cgroup().find("..") != std::string::npos) return Invalid("exec.cgroup has '..'");
      if (e.pty_rows() > 0xffff || e.pty_cols() > 0xffff) return Invalid("exec.pty size above 65535");
      return absl::OkStatus();
    }
    case v1::HostToGuest::kRunTest: {
      const auto& r = msg.run_test();
      if (!IsAbsolute(r.binary_path())) return Invalid("run_test.binary_path must be absolute");
      if (r.test_name().empty()) return Invalid("run_test.test_name is empty");
      if (r.has_scheduler() && !IsAbsolute(r.scheduler().binary_path()))
        return Invalid("run_test.scheduler.binary_path must be absolute");
      return absl::OkStatus();
    }
    case v1::HostToGuest::kCancel:
      if (msg.cancel().target_request_id() == 0) return Invalid("cancel.target_request_id is 0");
      return absl::OkStatus();
    case v1::HostToGuest::kStdin:
      if (msg.stdin().target_request_id() == 0) return Invalid("stdin.target_request_id is 0");
      return absl::OkStatus();
    case v1::HostToGuest::kPtyResize: {
      const auto& r = msg.pty_resize();
      if (r.target_request_id() == 0) return Invalid("pty_resize.target_request_id is 0");
      if (r.rows() == 0 || r.cols() == 0 || r.rows() > 0xffff || r.cols() > 0xffff)
        return Invalid("pty_resize needs rows and cols in 1..65535");
      return absl::OkStatus();
    }
    case v1::HostToGuest::MSG_NOT_SET:
      return Invalid("message has no request kind set (unknown or empty)");
  }
  return Invalid("unknown request kind");
}

absl::StatusOr<v1::HostToGuest> ParseHostToGuest(absl::string_view payload) {
  v1::HostToGuest msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    return Invalid("payload is not a parsable HostToGuest");
  if (absl::Status s = ValidateHostToGuest(msg); !s.ok()) return s;
  return msg;
}

}  // namespace ktstr::agent
