#include "guest_agent/wire.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

std::vector<FrameDecoder::Item> Drain(FrameDecoder& d) {
  std::vector<FrameDecoder::Item> out;
  while (true) {
    auto item = d.Next();
    if (std::holds_alternative<std::monostate>(item)) return out;
    out.push_back(std::move(item));
  }
}

TEST(Crc32cTest, KnownVector) {
  // The standard check value of CRC-32C.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // Chaining equals one pass.
  EXPECT_EQ(Crc32c("6789", Crc32c("12345")), Crc32c("123456789"));
  // The 8-byte fast path agrees with the bytewise tail at every length and alignment.
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 7) {
      absl::string_view v(data.data() + start, len);
      uint32_t bytewise = 0;
      for (char ch : v) bytewise = Crc32c(absl::string_view(&ch, 1), bytewise);
      EXPECT_EQ(Crc32c(v), bytewise) << start << "+" << len;
    }
  }
  // Another published vector: 32 bytes of zeros (RFC 3720 B.4).
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
}

TEST(FrameTest, RoundTripWholeAndByteByByte) {
  const std::string a = EncodeFrame("hello"), b = EncodeFrame(""), c = EncodeFrame(std::string(70000, 'x'));
  FrameDecoder whole;
  whole.Feed(a + b + c);
  auto items = Drain(whole);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(std::get<std::string>(items[0]), "hello");
  EXPECT_EQ(std::get<std::string>(items[1]), "");
  EXPECT_EQ(std::get<std::string>(items[2]).size(), 70000u);

  FrameDecoder bytewise;
  std::vector<std::string> got;
  for (char ch : a + c) {
    bytewise.Feed(std::string(1, ch));
    for (auto& it : Drain(bytewise)) got.push_back(std::get<std::string>(it));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "hello");
  EXPECT_EQ(bytewise.buffered(), 0u);
}

TEST(FrameTest, BadChecksumIsReportedAndNextFrameSurvives) {
  std::string bad = EncodeFrame("payload");
  bad[kFrameHeaderBytes] ^= 0x01;  // flip a payload bit
  FrameDecoder d;
  d.Feed(bad + EncodeFrame("next"));
  auto items = Drain(d);
  ASSERT_GE(items.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<FrameError>(items[0]));
  EXPECT_EQ(std::get<FrameError>(items[0]).kind, FrameErrorKind::kBadChecksum);
  ASSERT_TRUE(std::holds_alternative<std::string>(items.back()));
  EXPECT_EQ(std::get<std::string>(items.back()), "next");
}

TEST(FrameTest, ResyncAfterGarbage) {
  FrameDecoder d;
  d.Feed(std::string("garbage KTS but not a frame") + EncodeFrame("good"));
  auto items = Drain(d);
  ASSERT_EQ(items.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<FrameError>(items[0]));
  EXPECT_EQ(std::get<FrameError>(items[0]).kind, FrameErrorKind::kBadMagic);
  EXPECT_EQ(std::get<FrameError>(items[0]).skipped, 27u);
  EXPECT_EQ(std::get<std::string>(items[1]), "good");
}

TEST(FrameTest, PartialMagicAtEndWaitsForMore) {
  FrameDecoder d;
  std::string f = EncodeFrame("z");
  d.Feed("xx" + f.substr(0, 2));
  auto items = Drain(d);
  ASSERT_EQ(items.size(), 1u);  // only the two garbage bytes
  EXPECT_EQ(std::get<FrameError>(items[0]).skipped, 2u);
  d.Feed(f.substr(2));
  items = Drain(d);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(std::get<std::string>(items[0]), "z");
}

TEST(FrameTest, OversizedLengthIsRejectedWithoutBuffering) {
  std::string hdr = EncodeFrame("");
  hdr[4] = hdr[5] = hdr[6] = hdr[7] = '\xff';  // length 4 GiB - 1
  FrameDecoder d;
  d.Feed(hdr + EncodeFrame("after"));
  auto items = Drain(d);
  ASSERT_GE(items.size(), 2u);
  EXPECT_EQ(std::get<FrameError>(items[0]).kind, FrameErrorKind::kTooLarge);
  EXPECT_EQ(std::get<std::string>(items.back()), "after");
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(ValidateTest, RejectsWhatTheProtocolForbids) {
  v1::HostToGuest m;
  m.mutable_ping();
  EXPECT_FALSE(ValidateHostToGuest(m).ok()) << "request_id 0";
  m.set_request_id(1);
  EXPECT_TRUE(ValidateHostToGuest(m).ok());

  v1::HostToGuest e;
  e.set_request_id(2);
  e.mutable_exec();
  EXPECT_FALSE(ValidateHostToGuest(e).ok()) << "empty argv";
  e.mutable_exec()->add_argv("true");
  EXPECT_TRUE(ValidateHostToGuest(e).ok());
  (*e.mutable_exec()->mutable_env())["A=B"] = "x";
  EXPECT_FALSE(ValidateHostToGuest(e).ok()) << "'=' in an env name";

  v1::HostToGuest p;
  p.set_request_id(3);
  p.mutable_put_file()->set_path("relative/path");
  EXPECT_FALSE(ValidateHostToGuest(p).ok());
  p.mutable_put_file()->set_path("/abs");
  p.mutable_put_file()->set_data(std::string(config::kMaxPutChunkBytes + 1, 'a'));
  EXPECT_FALSE(ValidateHostToGuest(p).ok()) << "oversized chunk";

  v1::HostToGuest none;
  none.set_request_id(4);
  EXPECT_FALSE(ValidateHostToGuest(none).ok()) << "no request kind";
  EXPECT_FALSE(ParseHostToGuest("\xff\xff\xff").ok());
}

}  // namespace
}  // namespace ktstr::agent
