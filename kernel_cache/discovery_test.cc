#include "kernel_cache/discovery.h"

#include <filesystem>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "kernel_cache/testing/fake_env.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

using testing::FakeEnv;
using testing::NewTempDir;
using testing::StoreTestEntry;
using testing::WriteFile;

constexpr char kFrag[] = "0000f00d";
constexpr char kRel[] = "6.1.0-test-amd64";

// Every place of steps 4-9, as the code sees them (cwd /home/dev/proj, uname -r kRel).
const char* const kFallbacks[] = {
    "/home/dev/proj/linux/arch/x86/boot/bzImage",
    "/home/dev/proj/../linux/arch/x86/boot/bzImage",
    "/lib/modules/6.1.0-test-amd64/build/arch/x86/boot/bzImage",
    "/lib/modules/6.1.0-test-amd64/vmlinuz",
    "/boot/vmlinuz-6.1.0-test-amd64",
    "/boot/vmlinuz",
};
const DiscoveryStep kFallbackSteps[] = {
    DiscoveryStep::kCwdLinux,       DiscoveryStep::kParentLinux, DiscoveryStep::kModulesBuild,
    DiscoveryStep::kModulesVmlinuz, DiscoveryStep::kBootRelease, DiscoveryStep::kBootVmlinuz,
};

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sysroot_ = NewTempDir();
    env_ = std::make_unique<FakeEnv>(sysroot_);
    env_->SetRelease(kRel);
    WriteFile(env_->Real("/home/dev/proj/.keep"), "");
    auto c = KernelCache::Open(NewTempDir(), kFrag);
    ASSERT_TRUE(c.ok());
    cache_ = *std::move(c);
  }
  void Create(const std::string& path) { WriteFile(env_->Real(path), "kernel"); }
  absl::StatusOr<DiscoveredKernel> Discover() { return DiscoverKernel(*env_, cache_.get()); }

  std::string sysroot_;
  std::unique_ptr<FakeEnv> env_;
  std::unique_ptr<KernelCache> cache_;
};

TEST_F(DiscoveryTest, EachFallbackStepIsFoundAndEarlierOnesWin) {
  // Create the places from last to first: each new one must take over.
  for (int i = 5; i >= 0; --i) {
    Create(kFallbacks[i]);
    absl::StatusOr<DiscoveredKernel> k = Discover();
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_EQ(k->step, kFallbackSteps[i]) << i;
    EXPECT_EQ(k->image_path, kFallbacks[i]);
    EXPECT_EQ(k->tried.size(), 1u + static_cast<size_t>(i) + 1u) << absl::StrJoin(k->tried, "\n");
  }
}

TEST_F(DiscoveryTest, SourceTreeStepsAlsoReportVmlinuxAndConfig) {
  Create("/home/dev/proj/linux/arch/x86/boot/bzImage");
  Create("/home/dev/proj/linux/vmlinux");
  Create("/home/dev/proj/linux/.config");
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->vmlinux_path, "/home/dev/proj/linux/vmlinux");
  EXPECT_EQ(k->config_path, "/home/dev/proj/linux/.config");
  EXPECT_EQ(k->boot_path(), k->vmlinux_path);
}

TEST_F(DiscoveryTest, CacheBeatsFallbacksAndTestKernelBeatsEverything) {
  Create("/boot/vmlinuz");
  CacheEntry e = StoreTestEntry(*cache_, "7.3.4-deb-x86_64-kc1", "7.3.4", 100);
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->step, DiscoveryStep::kCache);
  EXPECT_EQ(k->cache_key, e.key);
  EXPECT_EQ(k->image_path, e.image_path());

  Create("/tmp/my-bzImage");
  env_->Set("KTSTR_KERNEL", "7.3.4");
  env_->Set("KTSTR_TEST_KERNEL", "/tmp/my-bzImage");
  k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->step, DiscoveryStep::kTestKernelEnv);
  EXPECT_EQ(k->image_path, "/tmp/my-bzImage");
  EXPECT_EQ(k->tried.size(), 1u);
}

TEST_F(DiscoveryTest, TestKernelThatDoesNotExistIsAnErrorNotAFallback) {
  Create("/boot/vmlinuz");
  env_->Set("KTSTR_TEST_KERNEL", "/nope/bzImage");
  EXPECT_TRUE(absl::IsInvalidArgument(Discover().status()));
}

TEST_F(DiscoveryTest, CacheSkipsStaleFragmentEntries) {
  StoreTestEntry(*cache_, "stale", "6.9.0", 300, "deadbeef");
  StoreTestEntry(*cache_, "fresh", "6.8.0", 100, kFrag);
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->cache_key, "fresh");
}

TEST_F(DiscoveryTest, KernelEnvPathToTreeFileOrMissing) {
  Create("/src/linux/arch/x86/boot/bzImage");
  StoreTestEntry(*cache_, "cached", "6.8.0", 100);
  env_->Set("KTSTR_KERNEL", "/src/linux");
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->step, DiscoveryStep::kKernelEnv);
  EXPECT_EQ(k->image_path, "/src/linux/arch/x86/boot/bzImage");

  env_->Set("KTSTR_KERNEL", "../../../src/linux/arch/x86/boot/bzImage");  // relative to cwd
  k = Discover();
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->image_path, "/home/dev/proj/../../../src/linux/arch/x86/boot/bzImage");

  WriteFile(env_->Real("/src/empty/.keep"), "");
  env_->Set("KTSTR_KERNEL", "/src/empty");
  absl::StatusOr<DiscoveredKernel> bad = Discover();
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("arch/x86/boot/bzImage"), std::string::npos);
}

TEST_F(DiscoveryTest, KernelEnvVersionAndKeyHitTheCache) {
  StoreTestEntry(*cache_, "k-6142", "6.14.2", 100);
  StoreTestEntry(*cache_, "k-newest", "7.0.0", 200);
  env_->Set("KTSTR_KERNEL", "6.14");
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->step, DiscoveryStep::kKernelEnv);
  EXPECT_EQ(k->cache_key, "k-6142");
  env_->Set("KTSTR_KERNEL", "k-6142");
  k = Discover();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->cache_key, "k-6142");
}

// Issue 7: an explicit version or key that is not cached must never pick an unrelated
// cached kernel; discovery goes on with step 4.
TEST_F(DiscoveryTest, UncachedVersionOrKeySkipsTheCacheScan) {
  StoreTestEntry(*cache_, "unrelated", "7.0.0", 200);
  for (const char* spec : {"6.14.2", "6.14.2-tarball-x86_64-kc00000000"}) {
    env_->Set("KTSTR_KERNEL", spec);
    absl::StatusOr<DiscoveredKernel> k = Discover();
    EXPECT_TRUE(absl::IsNotFound(k.status())) << spec;
    EXPECT_EQ(k.status().message().find("cache: "), std::string::npos) << k.status();
    EXPECT_NE(k.status().message().find("cache scan skipped"), std::string::npos);
    Create("/boot/vmlinuz");
    k = Discover();
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->step, DiscoveryStep::kBootVmlinuz) << spec;
    EXPECT_TRUE(k->cache_key.empty());
    std::filesystem::remove(env_->Real("/boot/vmlinuz"));
  }
}

TEST_F(DiscoveryTest, CorruptKeyIsNotUsed) {
  StoreTestEntry(*cache_, "broken", "6.1.0", 100);
  std::filesystem::remove(cache_->layout().MetadataPath("broken"));
  env_->Set("KTSTR_KERNEL", "broken");
  absl::StatusOr<DiscoveredKernel> k = Discover();
  EXPECT_TRUE(absl::IsNotFound(k.status()));
  EXPECT_NE(k.status().message().find("corrupt"), std::string::npos) << k.status();
}

TEST_F(DiscoveryTest, FailureListsEveryPlaceTried) {
  absl::StatusOr<DiscoveredKernel> k = Discover();
  ASSERT_TRUE(absl::IsNotFound(k.status()));
  std::string msg(k.status().message());
  EXPECT_NE(msg.find(cache_->layout().root()), std::string::npos) << msg;
  for (const char* place : kFallbacks) EXPECT_NE(msg.find(place), std::string::npos) << place;
}

TEST_F(DiscoveryTest, NoCacheStillSearchesTheFallbacks) {
  Create("/boot/vmlinuz");
  absl::StatusOr<DiscoveredKernel> k = DiscoverKernel(*env_, nullptr);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->step, DiscoveryStep::kBootVmlinuz);
}

TEST_F(DiscoveryTest, DiscoveryNeverWritesToTheCache) {
  Create("/home/dev/proj/linux/arch/x86/boot/bzImage");
  ASSERT_TRUE(Discover().ok());
  EXPECT_TRUE(cache_->List().empty());
  // Not even the cache directory is created.
  std::string absent = NewTempDir() + "/not-yet";
  auto cache = KernelCache::Open(absent, kFrag);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(DiscoverKernel(*env_, cache->get()).ok());
  EXPECT_FALSE(std::filesystem::exists(absent));
}

}  // namespace
}  // namespace ktstr::kcache
