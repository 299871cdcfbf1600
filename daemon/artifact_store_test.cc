#include "daemon/artifact_store.h"

#include <unistd.h>

#include <fstream>

#include "daemon/fs_util.h"
#include "gtest/gtest.h"

namespace ktstr::daemon {
namespace {

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR")) + "/artifacts";
    RemoveTree(dir_);
    auto s = ArtifactStore::Open(dir_, 1024);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::string dir_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST(Sha256, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(IsValidSha256Hex(Sha256Hex("")));
  EXPECT_FALSE(IsValidSha256Hex("ABC"));
}

TEST_F(ArtifactStoreTest, UploadInChunksThenDeduplicates) {
  std::string data = "hello, artifact";
  std::string sha = Sha256Hex(data);
  EXPECT_EQ(store_->Stat(sha).status().code(), absl::StatusCode::kNotFound);
  auto up = store_->BeginUpload(sha, data.size(), 1);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE((*up)->Append(data.substr(0, 5)).ok());
  ASSERT_TRUE((*up)->Append(data.substr(5)).ok());
  auto info = (*up)->Finish();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size_bytes, data.size());
  auto st = store_->Stat(sha);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->kind, 1);
  EXPECT_EQ(store_->BeginUpload(sha, data.size(), 1).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto path = store_->VerifiedPath(sha);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*ReadFileToString(*path), data);
}

TEST_F(ArtifactStoreTest, RejectsDigestMismatchAndLeavesNothing) {
  std::string sha = Sha256Hex("expected");
  auto up = store_->BeginUpload(sha, 8, 1);
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Append("tampered").ok());
  EXPECT_EQ((*up)->Finish().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Stat(sha).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ArtifactStoreTest, EnforcesSizeLimitsAndDeclaredSize) {
  std::string sha = Sha256Hex("x");
  EXPECT_EQ(store_->BeginUpload(sha, 4096, 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  auto up = store_->BeginUpload(sha, 1, 1);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->Append("xy").code(), absl::StatusCode::kResourceExhausted);
  auto short_up = store_->BeginUpload(Sha256Hex("ab"), 2, 1);
  ASSERT_TRUE(short_up.ok());
  ASSERT_TRUE((*short_up)->Append("a").ok());
  EXPECT_EQ((*short_up)->Finish().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->BeginUpload("not-a-digest", 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ArtifactStoreTest, DetectsCorruptionBeforeUse) {
  std::string data = "binary";
  std::string sha = Sha256Hex(data);
  auto up = store_->BeginUpload(sha, data.size(), 1);
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Append(data).ok());
  ASSERT_TRUE((*up)->Finish().ok());
  std::string path = dir_ + "/" + sha;
  chmod(path.c_str(), 0644);
  std::ofstream(path, std::ios::trunc) << "BINARY";
  EXPECT_EQ(store_->VerifiedPath(sha).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ktstr::daemon
