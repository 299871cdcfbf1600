// libFuzzer target for the frame decoder and HostToGuest validation: the code every byte
// from the host passes through first. Built with clang -fsanitize=fuzzer,address,undefined
// by the :wire_fuzzer genrule (Bazel's toolchain is gcc).
//
// Input: byte 0 picks the mode; the rest is the data.
//   even: a byte stream fed to FrameDecoder in pieces whose sizes come from byte 0, every
//         decoded payload parsed and validated;
//   odd:  a payload parsed and validated directly (reaches validation without a valid crc).
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "guest_agent/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ktstr::agent::FrameDecoder;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 1) {
    (void)ktstr::agent::ParseHostToGuest(rest);
    return 0;
  }
  // A small cap so oversized-length handling is exercised with small inputs.
  FrameDecoder decoder(/*max_payload=*/4096);
  const size_t piece = 1 + (mode >> 1);
  for (size_t off = 0; off < rest.size(); off += piece) {
    decoder.Feed(rest.substr(off, piece));
    while (true) {
      FrameDecoder::Item item = decoder.Next();
      if (std::holds_alternative<std::monostate>(item)) break;
      if (auto* payload = std::get_if<std::string>(&item)) {
        (void)ktstr::agent::ParseHostToGuest(*payload);
        // Round trip: a payload must re-encode to a frame that decodes to itself.
        FrameDecoder again;
        again.Feed(ktstr::agent::EncodeFrame(*payload));
        auto back = again.Next();
        if (std::get<std::string>(back) != *payload) __builtin_trap();
      } else {
        (void)std::get<ktstr::agent::FrameError>(item).Describe();
      }
    }
    // The decoder holds at most one frame plus a header beyond what it has consumed.
    if (decoder.buffered() > 4096 + 2 * ktstr::agent::kFrameHeaderBytes + piece) __builtin_trap();
  }
  return 0;
}
