// CacheKernelResolver over a real temporary kernel cache (small kernel-shaped test files).
#include "daemon/cache_kernel_resolver.h"

#include "gtest/gtest.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::daemon {
namespace {

using kcache::testing::StoreTestEntry;

class CacheKernelResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kcache::testing::NewTempDir();
    cache_ = *kcache::KernelCache::Open(dir_ + "/kernels");
    StoreTestEntry(*cache_, "7.1.0-image-x86_64-kc00000001", "7.1.0", 1000);
    StoreTestEntry(*cache_, "7.3.4-image-x86_64-kc00000002", "7.3.4", 3000);
    StoreTestEntry(*cache_, "7.2.0-image-x86_64-kc00000003", "7.2.0", 2000, "", false);
    resolver_ = *NewCacheKernelResolver(dir_ + "/kernels", dir_ + "/default-kernel");
  }

  static ktstr::v1::KernelRef Version(const std::string& v) {
    ktstr::v1::KernelRef r;
    r.set_version(v);
    return r;
  }
  static ktstr::v1::KernelRef Key(const std::string& k) {
    ktstr::v1::KernelRef r;
    r.set_cache_key(k);
    return r;
  }

  std::string dir_;
  std::unique_ptr<kcache::KernelCache> cache_;
  std::unique_ptr<KernelResolver> resolver_;
};

TEST_F(CacheKernelResolverTest, DefaultIsNewestValidEntry) {
  absl::StatusOr<ResolvedKernel> k = resolver_->Resolve(ktstr::v1::KernelRef());
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->key, "7.3.4-image-x86_64-kc00000002");
  EXPECT_EQ(k->image_path, cache_->Get(k->key)->image_path());  // no vmlinux cached
  EXPECT_NE(k->pin, nullptr);
  EXPECT_EQ(resolver_->DefaultKey(), "7.3.4-image-x86_64-kc00000002");
}

TEST_F(CacheKernelResolverTest, BootsTheCachedElfVmlinux) {
  std::string staged = dir_ + "/staged";
  kcache::testing::WriteFile(staged + "/bzImage", kcache::testing::MakeBzImage("7.5.0", "x"));
  kcache::testing::WriteFile(staged + "/vmlinux", kcache::testing::MakeElf({{".BTF", "b"}}));
  kcache::KernelMetadata m;
  m.version = "7.5.0";
  m.arch = "x86_64";
  m.created_unix_s = 5000;
  absl::StatusOr<kcache::CacheEntry> e = cache_->Store(
      "7.5.0-image-x86_64-kc00000005", {staged + "/bzImage", staged + "/vmlinux", ""}, m);
  ASSERT_TRUE(e.ok()) << e.status();
  absl::StatusOr<ResolvedKernel> k = resolver_->Resolve(ktstr::v1::KernelRef());
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->key, e->key);
  EXPECT_EQ(k->image_path, e->vmlinux_path());  // PVH boot of the ELF
  EXPECT_TRUE(resolver_->List()[0].btf());
  EXPECT_EQ(k->config_path, "");  // none cached: the executor warns, ships nothing
}

// sched_ext jobs ship the kernel's .config as /boot/config-<release> (libbpf __kconfig
// externs): both come from the cache entry, not from files guessed next to the image.
TEST_F(CacheKernelResolverTest, CarriesTheCachedConfigAndRelease) {
  std::string staged = dir_ + "/staged_cfg";
  kcache::testing::WriteFile(staged + "/bzImage", kcache::testing::MakeBzImage("7.6.0", "x"));
  kcache::testing::WriteFile(staged + "/config", "CONFIG_SCHED_CLASS_EXT=y\n");
  kcache::KernelMetadata m;
  m.version = "7.6.0-test";
  m.arch = "x86_64";
  m.created_unix_s = 6000;
  absl::StatusOr<kcache::CacheEntry> e = cache_->Store(
      "7.6.0-image-x86_64-kc00000006", {staged + "/bzImage", "", staged + "/config"}, m);
  ASSERT_TRUE(e.ok()) << e.status();
  absl::StatusOr<ResolvedKernel> k = resolver_->Resolve(ktstr::v1::KernelRef());
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->key, e->key);
  EXPECT_EQ(k->config_path, e->config_path());
  EXPECT_FALSE(k->config_path.empty());
  EXPECT_EQ(k->release, "7.6.0-test");
}

TEST_F(CacheKernelResolverTest, VersionAndKeyResolveExactlyOrNotFoundWithoutSubstitution) {
  EXPECT_EQ(resolver_->Resolve(Version("7.2"))->key, "7.2.0-image-x86_64-kc00000003");
  EXPECT_EQ(resolver_->Resolve(Key("7.1.0-image-x86_64-kc00000001"))->key,
            "7.1.0-image-x86_64-kc00000001");
  // A full key sent as a "version" (clients cannot always tell) still resolves exactly.
  EXPECT_EQ(resolver_->Resolve(Version("7.1.0-image-x86_64-kc00000001"))->key,
            "7.1.0-image-x86_64-kc00000001");

  absl::StatusOr<ResolvedKernel> v = resolver_->Resolve(Version("6.9"));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  // The message lists what is cached, so the user can pick.
  EXPECT_NE(v.status().message().find("7.3.4-image-x86_64-kc00000002"), std::string::npos)
      << v.status();
  EXPECT_EQ(resolver_->Resolve(Version("7.3.1")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver_->Resolve(Key("7.3.4-image-x86_64-kc99999999")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CacheKernelResolverTest, CorruptEntriesAreListedButNeverResolved) {
  // Newest by time, but its metadata is gone: corrupt.
  kcache::CacheEntry e = StoreTestEntry(*cache_, "7.4.0-image-x86_64-kc00000004", "7.4.0", 9000);
  ASSERT_EQ(std::remove((e.dir + "/metadata.json").c_str()), 0);
  EXPECT_EQ(resolver_->Resolve(ktstr::v1::KernelRef())->key, "7.3.4-image-x86_64-kc00000002");
  EXPECT_EQ(resolver_->Resolve(Version("7.4")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver_->Resolve(Key(e.key)).status().code(), absl::StatusCode::kDataLoss);

  std::vector<ktstr::v1::KernelEntry> list = resolver_->List();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].cache_key(), "7.3.4-image-x86_64-kc00000002");  // newest first
  EXPECT_TRUE(list[0].is_default());
  EXPECT_TRUE(list[0].sched_ext());
  EXPECT_FALSE(list[1].is_default());
  EXPECT_FALSE(list[1].sched_ext());  // 7.2.0 was stored without sched_ext
  EXPECT_TRUE(list[3].corrupt());     // corrupt last
  EXPECT_FALSE(list[3].corrupt_reason().empty());

  absl::StatusOr<std::vector<std::string>> removed = resolver_->Clean(0, true);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, std::vector<std::string>{e.key});
  EXPECT_EQ(resolver_->List().size(), 3u);
}

TEST_F(CacheKernelResolverTest, PinnedKernelCannotBeRemovedUntilReleased) {
  absl::StatusOr<ResolvedKernel> k = resolver_->Resolve(Version("7.1"));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(resolver_->Remove(k->key).code(), absl::StatusCode::kFailedPrecondition);
  // Clean skips it too (and never touches the default).
  EXPECT_TRUE(resolver_->Clean(0, false)->size() == 1);  // only 7.2.0 goes
  k->pin.reset();
  EXPECT_TRUE(resolver_->Remove(k->key).ok());
  EXPECT_EQ(resolver_->Remove(k->key).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver_->Resolve(Version("7.1")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver_->DefaultKey(), "7.3.4-image-x86_64-kc00000002");
}

TEST_F(CacheKernelResolverTest, ImportMarksDefaultAndEmptyCacheSaysWhatToDo) {
  std::string image = dir_ + "/bzImage";
  kcache::testing::WriteFile(
      image, kcache::testing::MakeBzImage("6.1.0-test", kcache::testing::MakeElf({{".BTF", "b"}})));
  KernelImport imp;
  imp.path = image;
  imp.make_default = true;
  absl::StatusOr<ktstr::v1::KernelEntry> e = resolver_->Import(imp);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->version(), "6.1.0-test");
  EXPECT_TRUE(e->is_default());
  EXPECT_EQ(resolver_->Resolve(ktstr::v1::KernelRef())->key, e->cache_key());
  // The mark survives a restart (a new resolver over the same files).
  auto again = *NewCacheKernelResolver(dir_ + "/kernels", dir_ + "/default-kernel");
  EXPECT_EQ(again->DefaultKey(), e->cache_key());

  KernelImport junk;
  junk.path = dir_ + "/junk";
  kcache::testing::WriteFile(junk.path, "not a kernel");
  EXPECT_EQ(resolver_->Import(junk).status().code(), absl::StatusCode::kInvalidArgument);
  junk.cache_key = "../x";
  EXPECT_EQ(resolver_->Import(junk).status().code(), absl::StatusCode::kInvalidArgument);

  auto empty = *NewCacheKernelResolver(dir_ + "/none", dir_ + "/none-default");
  absl::Status s = empty->Resolve(ktstr::v1::KernelRef()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("kernel import"), std::string::npos) << s;
  EXPECT_EQ(empty->DefaultKey(), "");
}

}  // namespace
}  // namespace ktstr::daemon
