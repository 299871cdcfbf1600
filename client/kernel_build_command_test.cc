// `ktstr-client kernel build` end to end: the real client binary builds a kernel tree on
// the client side (the fake tree of kernel_cache/testing/fake_kernel_tree.h: a real build
// takes 20+ minutes, that one is tools/bench/kernel-build) and sends it to a real ktstrd
// (fake executor: nothing boots) whose cache is a different directory, as a system daemon's
// would be. make, git, both caches, the socket and the upload are real.
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/exit_codes.h"
#include "daemon/fs_util.h"
#include "daemon/testing/ktstrd_harness.h"
#include "gtest/gtest.h"
#include "kernel_cache/kconfig.h"
#include "kernel_cache/kernel_cache.h"
#include "kernel_cache/testing/fake_kernel_tree.h"
#include "kernel_cache/testing/test_files.h"

namespace ktstr::client {
namespace {

using daemon::testing::KtstrdProcess;
using daemon::testing::RunClient;

class KernelBuildCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = kcache::testing::NewTempDir();
    socket_dir_ = absl::StrCat("/tmp/ktstr_kb_", getpid());
    daemon::RemoveTree(socket_dir_);
    ASSERT_TRUE(daemon::MakeDirs(socket_dir_).ok());
    daemon_ = std::make_unique<KtstrdProcess>(socket_dir_ + "/ktstrd.sock", tmp_ + "/state",
                                              tmp_ + "/daemon-ktstr");
    daemon_->Start();
    // The client's own cache (the user's ~/.cache/ktstr); RunClient's children inherit it.
    setenv("KTSTR_CACHE_DIR", (tmp_ + "/client-ktstr").c_str(), 1);
    tree_ = tmp_ + "/linux";
    kcache::testing::WriteFakeKernelTree(tree_);
  }
  void TearDown() override {
    daemon_.reset();
    daemon::RemoveTree(socket_dir_);
  }

  int Client(const std::vector<std::string>& args) {
    out_.clear();
    err_.clear();
    return RunClient(daemon_->socket(), tmp_, args, &out_, &err_);
  }
  std::vector<kcache::CacheEntry> ClientCache() {
    auto c = kcache::KernelCache::Open(tmp_ + "/client-ktstr/kernels");
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? (*c)->List() : std::vector<kcache::CacheEntry>{};
  }
  std::vector<ktstr::v1::KernelEntry> DaemonKernels() {
    grpc::ClientContext ctx;
    ktstr::v1::ListKernelsResponse list;
    EXPECT_TRUE(daemon_->stub()->ListKernels(&ctx, {}, &list).ok());
    return {list.kernels().begin(), list.kernels().end()};
  }

  std::string tmp_, socket_dir_, tree_, out_, err_;
  std::unique_ptr<KtstrdProcess> daemon_;
};

TEST_F(KernelBuildCommandTest, CleanTreeIsBuiltHereAndSentToKtstrdUnderItsKey) {
  kcache::testing::CommitFakeKernelTree(tree_);
  ASSERT_TRUE(DaemonKernels().empty());
  ASSERT_EQ(Client({"kernel", "build", "--source", tree_, "-j", "1", "--default"}), kExitOk)
      << out_ << err_;
  std::vector<kcache::CacheEntry> local = ClientCache();
  ASSERT_EQ(local.size(), 1u);
  const std::string key = local[0].key;
  EXPECT_TRUE(absl::StartsWith(key, "local-")) << key;
  EXPECT_TRUE(absl::StrContains(out_, "sent to ktstrd: " + key)) << out_ << err_;
  EXPECT_TRUE(absl::StrContains(err_, "[compile")) << "no progress on stderr: " << err_;
  EXPECT_FALSE(absl::StrContains(out_, "info")) << "library logs in the output: " << out_;

  std::vector<ktstr::v1::KernelEntry> kernels = DaemonKernels();
  ASSERT_EQ(kernels.size(), 1u);
  const ktstr::v1::KernelEntry& k = kernels[0];
  EXPECT_EQ(k.cache_key(), key);
  EXPECT_EQ(k.source(), ktstr::v1::KERNEL_SOURCE_LOCAL);
  EXPECT_EQ(k.kconfig_fragment_hash(), kcache::KtstrKconfigHash());
  EXPECT_EQ(k.version(), kcache::testing::kFakeTreeRelease);
  EXPECT_TRUE(k.sched_ext());
  EXPECT_TRUE(k.has_vmlinux());
  EXPECT_TRUE(k.is_default());
  EXPECT_FALSE(k.stale_fragment());
  // Stored in the daemon's own cache directory, from the uploaded artifacts.
  EXPECT_TRUE(daemon::ReadFileToString(tmp_ + "/daemon-ktstr/kernels/" + key + "/metadata.json")
                  .ok());

  // Again: nothing is built and nothing is sent.
  ASSERT_EQ(Client({"kernel", "build", "--source", tree_}), kExitOk) << out_ << err_;
  EXPECT_TRUE(absl::StrContains(out_, "cached locally: " + key)) << out_;
  EXPECT_TRUE(absl::StrContains(out_, "ktstrd already has " + key)) << out_;
  EXPECT_FALSE(absl::StrContains(err_, "uploading")) << err_;

  // --force rebuilds and replaces the daemon's entry of the same key.
  ASSERT_EQ(Client({"kernel", "build", "--source", tree_, "--force"}), kExitOk) << out_ << err_;
  EXPECT_TRUE(absl::StrContains(out_, "built in")) << out_;
  EXPECT_TRUE(absl::StrContains(out_, "replaced in ktstrd: " + key)) << out_;
  EXPECT_EQ(DaemonKernels().size(), 1u);
}

TEST_F(KernelBuildCommandTest, DirtyTreeIsBuiltButNeitherCachedNorSent) {
  kcache::testing::CommitFakeKernelTree(tree_);
  kcache::testing::WriteFile(tree_ + "/Kconfig", "# edited, not committed\n");
  ASSERT_EQ(Client({"kernel", "build", "--source", tree_}), kExitOk) << out_ << err_;
  EXPECT_TRUE(absl::StrContains(out_, "not cached")) << out_;
  EXPECT_TRUE(absl::StrContains(out_, "not sent to ktstrd")) << out_;
  EXPECT_TRUE(absl::StrContains(out_, tree_ + "/arch/x86/boot/bzImage")) << out_;
  EXPECT_TRUE(ClientCache().empty());
  EXPECT_TRUE(DaemonKernels().empty());
}

TEST_F(KernelBuildCommandTest, MissingRequiredOptionFailsNamingItAndSendsNothing) {
  kcache::testing::CommitFakeKernelTree(tree_);
  kcache::testing::WriteFile(tree_ + "/drop-option", "SCHED_CLASS_EXT");
  EXPECT_EQ(Client({"kernel", "build", "--source", tree_}), kExitError);
  EXPECT_TRUE(absl::StrContains(err_, "CONFIG_SCHED_CLASS_EXT")) << err_;
  EXPECT_TRUE(DaemonKernels().empty());
}

TEST_F(KernelBuildCommandTest, FailedCompileKeepsTheLogAndSaysWhere) {
  kcache::testing::CommitFakeKernelTree(tree_);
  kcache::testing::WriteFile(tree_ + "/fail-build", "");
  EXPECT_EQ(Client({"kernel", "build", "--source", tree_}), kExitError);
  EXPECT_TRUE(absl::StrContains(err_, tree_ + "/ktstr-build.log")) << err_;
  EXPECT_TRUE(absl::StrContains(err_, "error: boom")) << err_;
  EXPECT_TRUE(daemon::ReadFileToString(tree_ + "/ktstr-build.log").ok());
}

TEST_F(KernelBuildCommandTest, BadArgumentsAreUsageErrorsAndNothingIsBuilt) {
  EXPECT_EQ(Client({"kernel", "build", "6.12", "--source", tree_}), kExitUsage);
  EXPECT_TRUE(absl::StrContains(err_, "VERSION or --source, not both")) << err_;
  EXPECT_EQ(Client({"kernel", "build", "--source", tree_, "-j", "0"}), kExitUsage);
  EXPECT_EQ(Client({"kernel", "build", "--bogus"}), kExitUsage);
  EXPECT_EQ(Client({"kernel", "build", "--help"}), kExitOk);
  EXPECT_TRUE(absl::StrContains(out_, "--source DIR")) << out_;
  EXPECT_FALSE(daemon::ReadFileToString(tree_ + "/.config").ok());  // never configured
}

TEST_F(KernelBuildCommandTest, UnreachableDaemonFailsBeforeBuilding) {
  kcache::testing::CommitFakeKernelTree(tree_);
  daemon_->Kill(SIGKILL);
  EXPECT_EQ(Client({"kernel", "build", "--source", tree_}), kExitError);
  EXPECT_FALSE(err_.empty());
  EXPECT_FALSE(daemon::ReadFileToString(tree_ + "/.config").ok()) << "built without a daemon";
}

}  // namespace
}  // namespace ktstr::client
