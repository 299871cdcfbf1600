// The build pipeline against a fake kernel tree (testing/fake_kernel_tree.h: a real
// kernel build takes 20+ minutes here, that one is tools/bench/kernel-build, run by hand).
// make, git and the cache are real.
#include "kernel_cache/kernel_builder.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernel_cache/cache_key.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/subprocess.h"
#include "kernel_cache/testing/fake_kernel_tree.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::kcache {
namespace {

using testing::NewTempDir;
using testing::WriteFile;

class KernelBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = NewTempDir();
    tree_ = base_ + "/linux";
    testing::WriteFakeKernelTree(tree_);
    auto c = KernelCache::Open(base_ + "/kernels");
    ASSERT_TRUE(c.ok());
    cache_ = *std::move(c);
  }
  void MakeGitRepo() { testing::CommitFakeKernelTree(tree_); }
  absl::StatusOr<BuildResult> Build(bool force = false) {
    BuildOptions o;
    o.source_dir = tree_;
    o.force = force;
    o.jobs = 1;
    o.progress = [this](const BuildProgress& p) { phases_.push_back(p.phase); };
    return BuildSourceTree(*cache_, o);
  }

  std::string base_, tree_;
  std::unique_ptr<KernelCache> cache_;
  std::vector<BuildPhase> phases_;
};

TEST_F(KernelBuilderTest, CleanGitTreeIsConfiguredBuiltVerifiedAndCached) {
  MakeGitRepo();
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->cache_hit);
  ASSERT_TRUE(r->stored);
  EXPECT_EQ(r->entry.key.rfind("local-", 0), 0u);
  EXPECT_TRUE(absl::EndsWith(r->entry.key, absl::StrCat("-x86_64-kc", KtstrKconfigHash())))
      << r->entry.key;
  const KernelMetadata& m = r->entry.metadata;
  EXPECT_EQ(m.version, "6.99.0-fake");
  EXPECT_EQ(m.source, KernelSource::kLocal);
  EXPECT_EQ(m.kconfig_fragment_hash, KtstrKconfigHash());
  EXPECT_EQ(m.git_hash.size(), 40u);
  EXPECT_TRUE(m.sched_ext);
  EXPECT_TRUE(m.btf);
  EXPECT_TRUE(m.has_vmlinux);
  // defconfig ran (no .config), then the fragment was appended.
  std::string config = *ReadFileToString(r->entry.config_path());
  EXPECT_TRUE(absl::StartsWith(config, "CONFIG_BASE=y\n"));
  EXPECT_TRUE(absl::StrContains(config, "CONFIG_SCHED_CLASS_EXT=y"));
  EXPECT_FALSE(PathExists(tree_ + "/ktstr-build.log"));  // kept only on failure
  EXPECT_NE(std::find(phases_.begin(), phases_.end(), BuildPhase::kCompile), phases_.end());
  EXPECT_EQ(phases_.back(), BuildPhase::kDone);

  absl::StatusOr<BuildResult> again = Build();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cache_hit);
  EXPECT_EQ(again->entry.key, r->entry.key);
  absl::StatusOr<BuildResult> forced = Build(/*force=*/true);
  ASSERT_TRUE(forced.ok());
  EXPECT_FALSE(forced->cache_hit);
}

TEST_F(KernelBuilderTest, DirtyTreeIsBuiltButNotCached) {
  MakeGitRepo();
  WriteFile(tree_ + "/Kconfig", "# edited\n");
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->stored);
  EXPECT_TRUE(absl::StrContains(r->not_stored_reason, "uncommitted"));
  EXPECT_TRUE(IsRegularFile(r->image_path));
  EXPECT_TRUE(cache_->List().empty());
}

TEST_F(KernelBuilderTest, NonGitTreeIsCachedUnderItsPath) {
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->stored);
  EXPECT_EQ(r->entry.key, LocalUnknownKey(tree_, HostArch(), KtstrKconfigHash()));
}

TEST_F(KernelBuilderTest, DroppedRequiredOptionIsNamedInTheError) {
  WriteFile(tree_ + "/drop-option", "SCHED_CLASS_EXT");
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "CONFIG_SCHED_CLASS_EXT")) << r.status();
  EXPECT_FALSE(absl::StrContains(r.status().message(), "CONFIG_DEBUG_INFO_BTF"));
  EXPECT_TRUE(cache_->List().empty());
}

TEST_F(KernelBuilderTest, FailedMakeKeepsTheLogAndSaysWhere) {
  WriteFile(tree_ + "/fail-build", "");
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_FALSE(r.ok());
  std::string log = tree_ + "/ktstr-build.log";
  EXPECT_TRUE(absl::StrContains(r.status().message(), log)) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "boom"));
  EXPECT_TRUE(absl::StrContains(*ReadFileToString(log), "error: boom"));
}

TEST_F(KernelBuilderTest, UserConfigIsKeptAndPartOfTheKey) {
  MakeGitRepo();
  WriteFile(tree_ + "/.config", "CONFIG_USER=y\n");
  std::string user_crc = *FileCrc32Hex(tree_ + "/.config");
  absl::StatusOr<BuildResult> r = Build();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(r->entry.key, "-cfg" + user_crc + "-")) << r->entry.key;
  EXPECT_TRUE(absl::StartsWith(*ReadFileToString(r->entry.config_path()), "CONFIG_USER=y\n"));
  // The .config the build produced is recognised as ours: same key, cache hit.
  absl::StatusOr<BuildResult> again = Build();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cache_hit);
  EXPECT_EQ(again->entry.key, r->entry.key);
}

TEST_F(KernelBuilderTest, ConfigureOnlyChecksWithoutCompiling) {
  BuildOptions o;
  o.source_dir = tree_;
  o.configure_only = true;
  absl::StatusOr<BuildResult> r = BuildSourceTree(*cache_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->stored);
  EXPECT_FALSE(PathExists(tree_ + "/arch/x86/boot/bzImage"));
  EXPECT_TRUE(absl::StrContains(*ReadFileToString(tree_ + "/.config"), "CONFIG_SCHED_CLASS_EXT=y"));
  EXPECT_TRUE(cache_->List().empty());
}

TEST_F(KernelBuilderTest, NotAKernelTree) {
  BuildOptions o;
  o.source_dir = base_;
  EXPECT_TRUE(absl::IsInvalidArgument(BuildSourceTree(*cache_, o).status()));
}

}  // namespace
}  // namespace ktstr::kcache
