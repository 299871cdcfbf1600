// Imports the real default Debian kernel that tools/setup fetched: from its unpacked
// directory and from the .debs it keeps in the private apt tree. Then discovery, with no
// KTSTR_* variables, must find it and report sched_ext. Skips (with the reason) when
// tools/setup has not run on this machine.
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernel_cache/discovery.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/importer.h"
#include "kernel_cache/kernel_image.h"
#include "kernel_cache/testing/fake_env.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

std::string KtstrCache() {
  const char* dir = std::getenv("KTSTR_CACHE_DIR");
  if (dir != nullptr && *dir) return dir;
  return "/root/.cache/ktstr";
}

std::string FindDeb(const std::string& prefix) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(KtstrCache() + "/apt/archives", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && n.size() > 4 && n.substr(n.size() - 4) == ".deb")
      return e.path().string();
  }
  return "";
}

void ExpectDefaultKernel(const ImportResult& r) {
  const KernelMetadata& m = r.entry.metadata;
  EXPECT_EQ(m.source, KernelSource::kDebian);
  EXPECT_EQ(m.version.rfind("7.", 0), 0u) << m.version;
  EXPECT_TRUE(m.sched_ext);
  EXPECT_TRUE(m.btf);
  EXPECT_TRUE(m.has_vmlinux);
  EXPECT_TRUE(m.has_config);
  EXPECT_EQ(m.kconfig_fragment_hash, "");
  EXPECT_NE(r.entry.key.find("-deb-x86_64-kc"), std::string::npos) << r.entry.key;
  EXPECT_EQ(SniffFileKind(r.entry.vmlinux_path()), FileKind::kElf);
  EXPECT_EQ(SniffFileKind(r.entry.image_path()), FileKind::kBzImage);
}

TEST(DebianImportTest, DefaultDirImportsAndDiscoveryFindsItWithNoFlags) {
  const std::string dir = KtstrCache() + "/debian/default";
  if (!IsRegularFile(dir + "/vmlinuz")) GTEST_SKIP() << dir << " missing: run tools/setup";
  std::string tmp = testing::NewTempDir();
  auto cache = KernelCache::Open(tmp + "/kernels");
  ASSERT_TRUE(cache.ok());
  absl::StatusOr<ImportResult> r = ImportPath(**cache, dir, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->already_cached);
  ExpectDefaultKernel(*r);
  // The cached vmlinux is the one tools/setup extracted (no DWARF to strip in Debian's).
  EXPECT_EQ(std::filesystem::file_size(r->entry.vmlinux_path()),
            std::filesystem::file_size(dir + "/vmlinux"));

  absl::StatusOr<ImportResult> again = ImportPath(**cache, dir, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_cached);

  testing::FakeEnv env(tmp + "/sysroot");  // no KTSTR_* variables, nothing in /boot
  absl::StatusOr<DiscoveredKernel> k = DiscoverKernel(env, cache->get());
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->step, DiscoveryStep::kCache);
  EXPECT_EQ(k->cache_key, r->entry.key);
  EXPECT_EQ(k->boot_path(), r->entry.vmlinux_path());
}

TEST(DebianImportTest, SetupDefaultKernelImportIsLazyAndIdempotent) {
  if (!IsRegularFile(KtstrCache() + "/debian/default/vmlinuz")) GTEST_SKIP() << "run tools/setup";
  std::string tmp = testing::NewTempDir();
  auto cache = KernelCache::Open(tmp + "/kernels");
  ASSERT_TRUE(cache.ok());
  absl::StatusOr<ImportResult> first = ImportSetupDefaultKernel(**cache, KtstrCache());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->already_cached);
  absl::StatusOr<ImportResult> second = ImportSetupDefaultKernel(**cache, KtstrCache());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->already_cached);
  EXPECT_EQ(second->entry.key, first->entry.key);
  EXPECT_TRUE(absl::IsNotFound(ImportSetupDefaultKernel(**cache, tmp + "/nowhere").status()));
}

TEST(DebianImportTest, LinuxBinaryDebImportsWithItsLinuxBaseCompanion) {
  std::string deb = FindDeb("linux-binary-");
  if (deb.empty())
    GTEST_SKIP() << "no linux-binary-*.deb in " << KtstrCache() << "/apt/archives: run tools/setup";
  std::string tmp = testing::NewTempDir();
  auto cache = KernelCache::Open(tmp + "/kernels");
  ASSERT_TRUE(cache.ok());
  ImportOptions o;
  o.scratch_parent = tmp;
  absl::StatusOr<ImportResult> r = ImportPath(**cache, deb, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectDefaultKernel(*r);  // config (sched_ext) came from linux-base
  EXPECT_NE(r->entry.metadata.source_detail.find("linux-base-"), std::string::npos);
  // The vmlinux was extracted from the bzImage: same bytes as tools/setup's extraction.
  std::string setup_vmlinux = KtstrCache() + "/debian/default/vmlinux";
  if (IsRegularFile(setup_vmlinux)) {
    EXPECT_EQ(std::filesystem::file_size(r->entry.vmlinux_path()),
              std::filesystem::file_size(setup_vmlinux));
  }
  // Scratch space is gone.
  size_t leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp))
    leftovers += e.path().filename() != "kernels";
  EXPECT_EQ(leftovers, 0u);
}

}  // namespace
}  // namespace ktstr::kcache
