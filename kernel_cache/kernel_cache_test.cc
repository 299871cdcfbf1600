#include "kernel_cache/kernel_cache.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

using testing::NewTempDir;
using testing::StoreTestEntry;
using testing::WriteFile;

constexpr char kFrag[] = "0000f00d";

class KernelCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = NewTempDir() + "/kernels";
    auto c = KernelCache::Open(root_, kFrag);
    ASSERT_TRUE(c.ok()) << c.status();
    cache_ = *std::move(c);
  }
  std::vector<std::string> Keys() {
    std::vector<std::string> keys;
    for (const CacheEntry& e : cache_->List()) keys.push_back(e.key);
    return keys;
  }
  std::string root_;
  std::unique_ptr<KernelCache> cache_;
};

TEST_F(KernelCacheTest, StoreThenGetReturnsFilesAndMetadata) {
  CacheEntry e = StoreTestEntry(*cache_, "6.14.2-image-x86_64-kc00000001", "6.14.2", 1000);
  ASSERT_TRUE(e.valid());
  absl::StatusOr<CacheEntry> got = cache_->Get("6.14.2-image-x86_64-kc00000001");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->metadata.version, "6.14.2");
  EXPECT_EQ(got->image_path(), root_ + "/6.14.2-image-x86_64-kc00000001/bzImage");
  EXPECT_TRUE(IsRegularFile(got->image_path()));
  EXPECT_EQ(got->config_path(), root_ + "/6.14.2-image-x86_64-kc00000001/config");
  EXPECT_EQ(got->vmlinux_path(), "");
  EXPECT_EQ(got->boot_path(), got->image_path());
  EXPECT_GT(got->size_bytes, 0u);
  EXPECT_TRUE(absl::IsNotFound(cache_->Get("nope").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(cache_->Get("../etc").status()));
}

TEST_F(KernelCacheTest, ListIsNewestFirstWithCorruptLast) {
  StoreTestEntry(*cache_, "a-old", "6.1.0", 100);
  StoreTestEntry(*cache_, "b-new", "6.2.0", 300);
  StoreTestEntry(*cache_, "c-mid", "6.1.5", 200);
  WriteFile(root_ + "/0-broken/bzImage", "x");
  EXPECT_EQ(Keys(), (std::vector<std::string>{"b-new", "c-mid", "a-old", "0-broken"}));
}

TEST_F(KernelCacheTest, CorruptEntriesAreReportedNeverReturned) {
  StoreTestEntry(*cache_, "no-meta", "6.1.0", 100);
  std::filesystem::remove(root_ + "/no-meta/metadata.json");
  StoreTestEntry(*cache_, "bad-meta", "6.1.0", 100);
  WriteFile(root_ + "/bad-meta/metadata.json", "{\"schema\": 1, \"version\": ");
  StoreTestEntry(*cache_, "no-image", "6.1.0", 100);
  std::filesystem::remove(root_ + "/no-image/bzImage");
  StoreTestEntry(*cache_, "no-config", "6.1.0", 100);
  std::filesystem::remove(root_ + "/no-config/config");

  std::map<std::string, CorruptKind> kinds;
  for (const CacheEntry& e : cache_->List()) kinds[e.key] = e.corrupt;
  EXPECT_EQ(kinds["no-meta"], CorruptKind::kMetadataMissing);
  EXPECT_EQ(kinds["bad-meta"], CorruptKind::kMetadataMalformed);
  EXPECT_EQ(kinds["no-image"], CorruptKind::kImageMissing);
  EXPECT_EQ(kinds["no-config"], CorruptKind::kConfigMissing);
  absl::StatusOr<CacheEntry> got = cache_->Get("bad-meta");
  EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_NE(got.status().message().find("metadata_malformed"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(cache_->Newest().status()));
  EXPECT_TRUE(absl::IsNotFound(cache_->FindVersion("6.1").status()));
}

TEST_F(KernelCacheTest, NewestSkipsStaleFragmentButNotImportedKernels) {
  StoreTestEntry(*cache_, "imported", "6.1.0", 100, /*fragment_hash=*/"");
  StoreTestEntry(*cache_, "current", "6.2.0", 200, kFrag);
  StoreTestEntry(*cache_, "stale", "6.3.0", 300, "deadbeef");
  absl::StatusOr<CacheEntry> newest = cache_->Newest();
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->key, "current");
  ASSERT_TRUE(cache_->Remove("current").ok());
  newest = cache_->Newest();
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->key, "imported");
  absl::StatusOr<CacheEntry> stale = cache_->Get("stale");
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->stale_fragment);
}

TEST_F(KernelCacheTest, FindVersionTakesNewestMatchingComponentPrefix) {
  StoreTestEntry(*cache_, "k1", "6.14.2", 100);
  StoreTestEntry(*cache_, "k2", "6.14.10", 200);
  StoreTestEntry(*cache_, "k3", "6.1.4", 300);
  EXPECT_EQ(cache_->FindVersion("6.14")->key, "k2");
  EXPECT_EQ(cache_->FindVersion("6.14.2")->key, "k1");
  EXPECT_EQ(cache_->FindVersion("6.1")->key, "k3");
  EXPECT_TRUE(absl::IsNotFound(cache_->FindVersion("6.14.1").status()));
}

TEST_F(KernelCacheTest, LookupTakesKeysOrVersions) {
  StoreTestEntry(*cache_, "6.14.2-image-x86_64-kc00000001", "6.14.2", 100);
  EXPECT_EQ(cache_->Lookup("6.14")->key, "6.14.2-image-x86_64-kc00000001");
  EXPECT_EQ(cache_->Lookup("6.14.2-image-x86_64-kc00000001")->key,
            "6.14.2-image-x86_64-kc00000001");
  EXPECT_TRUE(absl::IsNotFound(cache_->Lookup("6.15").status()));
  EXPECT_TRUE(absl::IsNotFound(cache_->Lookup("6.15.0-image-x86_64-kc00000001").status()));
}

TEST_F(KernelCacheTest, ConcurrentStoresOfOneKeyLeaveOneValidEntry) {
  // Two processes write the same key at once; the flock serialises them.
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      CacheEntry e = StoreTestEntry(*cache_, "same", absl::StrCat("6.1.", i), 100 + i);
      _exit(e.valid() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  absl::StatusOr<CacheEntry> got = cache_->Get("same");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Keys(), std::vector<std::string>{"same"});
}

TEST_F(KernelCacheTest, StoreReplacesAnExistingEntryAtomically) {
  StoreTestEntry(*cache_, "same", "6.1.0", 100);
  StoreTestEntry(*cache_, "same", "6.1.1", 200);
  absl::StatusOr<CacheEntry> got = cache_->Get("same");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->metadata.version, "6.1.1");
  // No temporary directories are left behind.
  for (const auto& d : std::filesystem::directory_iterator(root_)) {
    EXPECT_NE(d.path().filename().string().rfind(".tmp-", 0), 0u) << d.path();
  }
}

TEST_F(KernelCacheTest, CleanKeepsNewestValidAndAlwaysDropsCorrupt) {
  StoreTestEntry(*cache_, "k1", "6.1.0", 100);
  StoreTestEntry(*cache_, "k2", "6.2.0", 200);
  StoreTestEntry(*cache_, "k3", "6.3.0", 300);
  WriteFile(root_ + "/broken/x", "x");
  CleanOptions keep2;
  keep2.keep = 2;
  absl::StatusOr<CleanResult> r = cache_->Clean(keep2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, (std::vector<std::string>{"k1", "broken"}));
  EXPECT_EQ(Keys(), (std::vector<std::string>{"k3", "k2"}));
  CleanOptions all;
  all.protect = {"k3"};
  r = cache_->Clean(all);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"k3"}));
}

TEST_F(KernelCacheTest, CleanCorruptOnlyLeavesValidEntries) {
  StoreTestEntry(*cache_, "k1", "6.1.0", 100);
  WriteFile(root_ + "/broken/x", "x");
  CleanOptions o;
  o.corrupt_only = true;
  absl::StatusOr<CleanResult> r = cache_->Clean(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed, std::vector<std::string>{"broken"});
  EXPECT_EQ(Keys(), std::vector<std::string>{"k1"});
}

TEST_F(KernelCacheTest, PinnedEntryIsNotRemoved) {
  StoreTestEntry(*cache_, "k1", "6.1.0", 100);
  // The pin must conflict across processes (flock is per open file description), so a
  // child process holds it while the parent tries to remove.
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  if (child == 0) {
    absl::StatusOr<FileLock> pin = cache_->Pin("k1");
    char c = pin.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);  // hold the pin until the parent says so
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_TRUE(absl::IsUnavailable(cache_->Remove("k1")));
  absl::StatusOr<CleanResult> r = cache_->Clean(CleanOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->in_use, std::vector<std::string>{"k1"});
  (void)!write(release[1], "x", 1);
  waitpid(child, nullptr, 0);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
  EXPECT_TRUE(cache_->Remove("k1").ok());
  EXPECT_TRUE(Keys().empty());
}

TEST_F(KernelCacheTest, StoreSweepsTemporaryDirectoriesOfDeadWriters) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  std::string orphan = absl::StrCat(root_, "/.tmp-k-", child);
  std::string live = absl::StrCat(root_, "/.tmp-k-", getpid());
  WriteFile(orphan + "/bzImage", "x");
  WriteFile(live + "/bzImage", "x");
  ASSERT_TRUE(KernelCache::Open(root_, kFrag).ok());
  EXPECT_TRUE(PathExists(orphan));  // Open writes nothing
  StoreTestEntry(*cache_, "k1", "6.1.0", 100);
  EXPECT_FALSE(PathExists(orphan));
  EXPECT_TRUE(PathExists(live));
}

TEST_F(KernelCacheTest, StoreStripsDwarfFromVmlinuxKeepingBtf) {
  std::string dir = NewTempDir();
  WriteFile(dir + "/bzImage", testing::MakeBzImage("6.1.0", "p"));
  WriteFile(dir + "/vmlinux", testing::MakeElf({{".text", std::string(64, '\x90')},
                                                {".BTF", "btf-bytes"},
                                                {".debug_info", std::string(4096, 'd')}}));
  KernelMetadata m;
  m.version = "6.1.0";
  m.arch = "x86_64";
  absl::StatusOr<CacheEntry> e = cache_->Store("k", {dir + "/bzImage", dir + "/vmlinux", ""}, m);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->metadata.has_vmlinux);
  EXPECT_TRUE(e->metadata.vmlinux_stripped);
  EXPECT_TRUE(e->metadata.btf);
  EXPECT_FALSE(e->metadata.has_config);
  EXPECT_EQ(e->boot_path(), e->vmlinux_path());
  EXPECT_LT(std::filesystem::file_size(e->vmlinux_path()),
            std::filesystem::file_size(dir + "/vmlinux"));
}

}  // namespace
}  // namespace ktstr::kcache
