#include "kernel_cache/cache_key.h"

#include "gtest/gtest.h"
#include "kernel_cache/kconfig.h"

namespace ktstr::kcache {
namespace {

TEST(CacheKeyTest, SeedFormsAndOurs) {
  EXPECT_EQ(TarballKey("6.14.2", "x86_64", "1a2b3c4d"), "6.14.2-tarball-x86_64-kc1a2b3c4d");
  EXPECT_EQ(GitKey("v6.14", "abcdef1", "x86_64", "1a2b3c4d"),
            "v6.14-git-abcdef1-x86_64-kc1a2b3c4d");
  EXPECT_EQ(LocalKey("abcdef1", "x86_64", std::nullopt, "1a2b3c4d"),
            "local-abcdef1-x86_64-kc1a2b3c4d");
  EXPECT_EQ(LocalKey("abcdef1", "x86_64", "deadbeef", "1a2b3c4d"),
            "local-abcdef1-x86_64-cfgdeadbeef-kc1a2b3c4d");
  EXPECT_EQ(LocalUnknownKey("/src/linux", "x86_64", "1a2b3c4d"),
            "local-unknown-" + Crc32Hex("/src/linux") + "-x86_64-kc1a2b3c4d");
  EXPECT_EQ(DebianKey("7.3.4+deb13-cloud-amd64", "x86_64", "775360ea"),
            "7.3.4+deb13-cloud-amd64-deb-x86_64-kc775360ea");
  EXPECT_EQ(DebianSourceKey("6.12.117", "x86_64", "1a2b3c4d"), "6.12.117-debsrc-x86_64-kc1a2b3c4d");
  EXPECT_EQ(ImageKey("6.14.2", "x86_64", "00000001"), "6.14.2-image-x86_64-kc00000001");
}

TEST(CacheKeyTest, EveryComputedKeyIsValidEvenFromHostileVersions) {
  EXPECT_TRUE(IsValidKey(TarballKey("6.14.2", "x86_64", "1a2b3c4d")));
  std::string k = ImageKey("../../etc/passwd x", "x86_64", "00000001");
  EXPECT_TRUE(IsValidKey(k)) << k;
  EXPECT_EQ(k.find('/'), std::string::npos);
}

TEST(CacheKeyTest, IsValidKeyRejectsPathsAndHiddenNames) {
  EXPECT_FALSE(IsValidKey(""));
  EXPECT_FALSE(IsValidKey("."));
  EXPECT_FALSE(IsValidKey(".."));
  EXPECT_FALSE(IsValidKey(".locks"));
  EXPECT_FALSE(IsValidKey(".tmp-x-1"));
  EXPECT_FALSE(IsValidKey("a/b"));
  EXPECT_FALSE(IsValidKey("a b"));
  EXPECT_TRUE(IsValidKey("7.3.4+deb13-cloud-amd64-deb-x86_64-kc775360ea"));
}

TEST(CacheKeyTest, ClassifyKernelSpecFollowsTheSeed) {
  EXPECT_EQ(ClassifyKernelSpec("6.14.2"), KernelSpecKind::kVersion);
  EXPECT_EQ(ClassifyKernelSpec("6.14"), KernelSpecKind::kVersion);
  EXPECT_EQ(ClassifyKernelSpec("6"), KernelSpecKind::kVersion);
  EXPECT_EQ(ClassifyKernelSpec("6.15-rc3"), KernelSpecKind::kVersion);
  EXPECT_EQ(ClassifyKernelSpec("../linux"), KernelSpecKind::kPath);
  EXPECT_EQ(ClassifyKernelSpec("/boot/vmlinuz"), KernelSpecKind::kPath);
  EXPECT_EQ(ClassifyKernelSpec("./bzImage"), KernelSpecKind::kPath);
  EXPECT_EQ(ClassifyKernelSpec("~/linux"), KernelSpecKind::kPath);
  EXPECT_EQ(ClassifyKernelSpec("6.14.2-tarball-x86_64-kc1a2b3c4d"), KernelSpecKind::kCacheKey);
  EXPECT_EQ(ClassifyKernelSpec("6.14.2.1"), KernelSpecKind::kCacheKey);
  EXPECT_EQ(ClassifyKernelSpec("6..1"), KernelSpecKind::kCacheKey);
  EXPECT_EQ(ClassifyKernelSpec("linux"), KernelSpecKind::kCacheKey);
}

TEST(CacheKeyTest, VersionMatchesWholeComponentsOnly) {
  EXPECT_TRUE(VersionMatches("7.3.4+deb13-cloud-amd64", "7.3.4"));
  EXPECT_TRUE(VersionMatches("7.3.4+deb13-cloud-amd64", "7.3"));
  EXPECT_TRUE(VersionMatches("7.3.4", "7.3.4"));
  EXPECT_FALSE(VersionMatches("7.3.10", "7.3.1"));
  EXPECT_FALSE(VersionMatches("17.3.4", "7.3"));
  EXPECT_FALSE(VersionMatches("7.3.4", ""));
  EXPECT_FALSE(VersionMatches("7.3", "7.3.4"));
}

TEST(CacheKeyTest, ImagePathPerArch) {
  EXPECT_EQ(ImageRelPathForArch("x86_64"), "arch/x86/boot/bzImage");
  EXPECT_EQ(ImageRelPathForArch("aarch64"), "arch/arm64/boot/Image");
}

}  // namespace
}  // namespace ktstr::kcache
