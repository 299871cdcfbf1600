#include "kernel_cache/flat_json.h"

#include "gtest/gtest.h"

namespace ktstr::kcache {
namespace {

TEST(FlatJsonTest, RoundTrip) {
  std::string text = WriteFlatJson({{"s", std::string("a\"b\\c\nd")},
                                    {"n", int64_t{-42}},
                                    {"t", true},
                                    {"f", false},
                                    {"big", int64_t{1795597776}}});
  absl::StatusOr<FlatJsonObject> obj = ParseFlatJson(text);
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(std::get<std::string>((*obj)["s"]), "a\"b\\c\nd");
  EXPECT_EQ(std::get<int64_t>((*obj)["n"]), -42);
  EXPECT_EQ(std::get<bool>((*obj)["t"]), true);
  EXPECT_EQ(std::get<bool>((*obj)["f"]), false);
  EXPECT_EQ(std::get<int64_t>((*obj)["big"]), 1795597776);
}

TEST(FlatJsonTest, AcceptsEmptyObjectAndUnicodeEscape) {
  EXPECT_TRUE(ParseFlatJson(" {} ").ok());
  absl::StatusOr<FlatJsonObject> obj = ParseFlatJson(R"({"a":"\u0041"})");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(std::get<std::string>((*obj)["a"]), "A");
}

TEST(FlatJsonTest, RejectsWhatIsNotOneFlatObject) {
  for (const char* bad :
       {"", "{", "{\"a\":1", "{\"a\":1,}", "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":1.5}",
        "{\"a\":null}", "{\"a\":1} x", "{\"a\":1,\"a\":2}", "{\"a\":\"unterminated}", "[]", "{a:1}",
        "{\"a\":99999999999999999999}"}) {
    EXPECT_FALSE(ParseFlatJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ktstr::kcache
