#include "daemon/artifact_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"

namespace ktstr::daemon {
namespace {

std::string ToHex(const unsigned char* d, unsigned n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 15]);
  }
  return out;
}

// RAII over an EVP_MD_CTX computing SHA-256 incrementally.
class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Hasher() { EVP_MD_CTX_free(ctx_); }
  void Update(absl::string_view d) { EVP_DigestUpdate(ctx_, d.data(), d.size()); }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    return ToHex(md, n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::atomic<uint64_t> upload_counter{0};

class UploadImpl : public ArtifactStore::Upload {
 public:
  UploadImpl(std::string tmp_path, std::string final_path, std::string kind_path,
             std::string sha, uint64_t size, int kind, FILE* f)
      : tmp_path_(std::move(tmp_path)), final_path_(std::move(final_path)),
        kind_path_(std::move(kind_path)), sha_(std::move(sha)), size_(size), kind_(kind),
        f_(f) {}
  ~UploadImpl() override {
    if (f_ != nullptr) fclose(f_);
    if (!finished_) unlink(tmp_path_.c_str());
  }

  absl::Status Append(absl::string_view chunk) override {
    if (f_ == nullptr) return absl::FailedPreconditionError("upload already finished");
    if (written_ + chunk.size() > size_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "upload exceeds its declared size of ", size_, " bytes"));
    }
    if (fwrite(chunk.data(), 1, chunk.size(), f_) != chunk.size()) {
      return absl::InternalError("write to the artifact store failed (disk full?)");
    }
    hasher_.Update(chunk);
    written_ += chunk.size();
    return absl::OkStatus();
  }

  absl::StatusOr<ArtifactInfo> Finish() override {
    if (f_ == nullptr) return absl::FailedPreconditionError("upload already finished");
    bool flushed = fflush(f_) == 0 && fsync(fileno(f_)) == 0;
    fclose(f_);
    f_ = nullptr;
    if (!flushed) return absl::InternalError("flushing the artifact failed");
    if (written_ != size_) {
      return absl::InvalidArgumentError(absl::StrCat("upload ended after ", written_,
                                                     " of ", size_, " declared bytes"));
    }
    std::string got = hasher_.HexDigest();
    if (got != sha_) {
      return absl::InvalidArgumentError(
          absl::StrCat("digest mismatch: declared ", sha_, ", received ", got));
    }
    chmod(tmp_path_.c_str(), 0444);
    if (rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot publish artifact: ", strerror(errno)));
    }
    finished_ = true;
    (void)WriteFileAtomically(kind_path_, absl::StrCat(kind_));
    return ArtifactInfo{sha_, size_, kind_};
  }

 private:
  std::string tmp_path_, final_path_, kind_path_, sha_;
  uint64_t size_;
  int kind_;
  FILE* f_;
  Hasher hasher_;
  uint64_t written_ = 0;
  bool finished_ = false;
};

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  Hasher h;
  h.Update(data);
  return h.HexDigest();
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Hasher h;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) h.Update(absl::string_view(buf, n));
  bool err = ferror(f);
  fclose(f);
  if (err) return absl::InternalError(absl::StrCat("read error on ", path));
  return h.HexDigest();
}

bool IsValidSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(std::string dir,
                                                                   uint64_t max_size_bytes) {
  if (absl::Status s = MakeDirs(dir + "/.incoming", 0700); !s.ok()) return s;
  // Partial uploads of a previous process are garbage.
  RemoveTree(dir + "/.incoming");
  if (absl::Status s = MakeDirs(dir + "/.incoming", 0700); !s.ok()) return s;
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(std::move(dir), max_size_bytes));
}

std::string ArtifactStore::PathOf(absl::string_view sha256) const {
  return absl::StrCat(dir_, "/", sha256);
}

absl::StatusOr<ArtifactInfo> ArtifactStore::Stat(absl::string_view sha256) const {
  if (!IsValidSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a sha256 digest (64 lowercase hex characters): '", sha256, "'"));
  }
  struct stat st;
  if (stat(PathOf(sha256).c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("artifact ", sha256, " is not uploaded"));
  }
  ArtifactInfo info{std::string(sha256), static_cast<uint64_t>(st.st_size), 0};
  if (auto k = ReadFileToString(PathOf(sha256) + ".kind"); k.ok()) {
    info.kind = atoi(k->c_str());
  }
  return info;
}

absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> ArtifactStore::BeginUpload(
    absl::string_view sha256, uint64_t size_bytes, int kind) {
  if (!IsValidSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a sha256 digest (64 lowercase hex characters): '", sha256, "'"));
  }
  if (size_bytes > max_size_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "artifact of ", size_bytes, " bytes exceeds the daemon's limit of ", max_size_bytes_,
        " bytes (ktstrd --max_artifact_mb)"));
  }
  if (Stat(sha256).ok()) {
    return absl::AlreadyExistsError(absl::StrCat("artifact ", sha256, " already stored"));
  }
  std::string tmp = absl::StrCat(dir_, "/.incoming/", sha256, ".", getpid(), ".",
                                 upload_counter.fetch_add(1));
  FILE* f = fopen(tmp.c_str(), "wbx");
  if (f == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", strerror(errno)));
  }
  return std::unique_ptr<Upload>(new UploadImpl(tmp, PathOf(sha256), PathOf(sha256) + ".kind",
                                                std::string(sha256), size_bytes, kind, f));
}

absl::StatusOr<std::string> ArtifactStore::VerifiedPath(absl::string_view sha256) const {
  if (absl::StatusOr<ArtifactInfo> info = Stat(sha256); !info.ok()) return info.status();
  std::string path = PathOf(sha256);
  absl::StatusOr<std::string> got = Sha256OfFile(path);
  if (!got.ok()) return got.status();
  if (*got != sha256) {
    return absl::DataLossError(absl::StrCat("stored artifact ", sha256,
                                            " is corrupted (hashes to ", *got, ")"));
  }
  return path;
}

}  // namespace ktstr::daemon
