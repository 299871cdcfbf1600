#include "kernel_cache/kconfig.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace ktstr::kcache {
namespace {

TEST(KconfigTest, Crc32IsZlibsPolynomial) {
  EXPECT_EQ(Crc32("123456789"), 0xcbf43926u);  // the standard check value
  EXPECT_EQ(Crc32Hex("123456789"), "cbf43926");
  EXPECT_EQ(Crc32Hex(""), "00000000");
}

TEST(KconfigTest, ParsesSetUnsetAndValues) {
  KconfigValues v = ParseKconfig(
      "#\n# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_HZ=250\n"
      "CONFIG_S=\"x=y\"\ngarbage\nCONFIG_=y\n");
  EXPECT_EQ(v["A"], "y");
  EXPECT_EQ(v["B"], "m");
  EXPECT_EQ(v["C"], "n");
  EXPECT_EQ(v["HZ"], "250");
  EXPECT_EQ(v["S"], "\"x=y\"");
  EXPECT_EQ(v.size(), 5u);
}

TEST(KconfigTest, MissingRequiredNamesEachOptionNotY) {
  KconfigValues v;
  for (const std::string& o : RequiredOptions()) v[o] = "y";
  EXPECT_TRUE(MissingRequiredOptions(v).empty());
  v["SCHED_CLASS_EXT"] = "n";
  v.erase("DEBUG_INFO_BTF");
  v["VIRTIO_CONSOLE"] = "m";  // a module is not enough: the guest loads none
  EXPECT_EQ(MissingRequiredOptions(v),
            (std::vector<std::string>{"CONFIG_SCHED_CLASS_EXT", "CONFIG_DEBUG_INFO_BTF",
                                      "CONFIG_VIRTIO_CONSOLE"}));
}

TEST(KconfigTest, UnappliedFragmentOptionsNamesOverriddenOnes) {
  KconfigValues frag = ParseKconfig(
      "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n# CONFIG_D is not set\nCONFIG_HZ=1000\n");
  KconfigValues cfg = ParseKconfig("CONFIG_A=y\nCONFIG_B=m\nCONFIG_C=y\nCONFIG_HZ=250\n");
  EXPECT_EQ(UnappliedFragmentOptions(frag, cfg),
            (std::vector<std::string>{"CONFIG_B=y (got m)", "CONFIG_C=n (got y)",
                                      "CONFIG_HZ=1000 (got 250)"}));
}

TEST(KconfigTest, FragmentSetsEveryRequiredOptionAndHashesItsText) {
  KconfigValues frag = ParseKconfig(KtstrKconfigFragment());
  EXPECT_TRUE(MissingRequiredOptions(frag).empty());
  EXPECT_EQ(KtstrKconfigHash(), Crc32Hex(KtstrKconfigFragment()));
  EXPECT_TRUE(HasSchedExt(frag));
  // Off on purpose: they distort scheduling timing.
  EXPECT_EQ(frag["PROVE_LOCKING"], "n");
  EXPECT_EQ(frag["PSI"], "n");
}

TEST(KconfigTest, EveryFragmentOptionIsExplained) {
  // Each option line has its own reason on the line right above it.
  std::vector<std::string> lines = absl::StrSplit(KtstrKconfigFragment(), '\n');
  auto is_option = [](absl::string_view l) {
    return absl::StartsWith(l, "CONFIG_") ||
           (absl::StartsWith(l, "# CONFIG_") && absl::EndsWith(l, " is not set"));
  };
  int options = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_option(lines[i])) continue;
    ++options;
    ASSERT_GT(i, 0u);
    const std::string& above = lines[i - 1];
    EXPECT_TRUE(absl::StartsWith(above, "# ") && !is_option(above) &&
                !absl::StartsWith(above, "# ---"))
        << "no reason given right above: " << lines[i];
  }
  EXPECT_GT(options, 50);
}

}  // namespace
}  // namespace ktstr::kcache
