#include "daemon/kernel_resolver.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/fs_util.h"

namespace ktstr::daemon {
namespace {

class DirKernelResolver : public KernelResolver {
 public:
  DirKernelResolver(std::string dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {
    if (auto v = ReadFileToString(dir_ + "/version"); v.ok()) {
      version_ = std::string(absl::StripAsciiWhitespace(*v));
    }
  }

  absl::StatusOr<ResolvedKernel> Resolve(const ktstr::v1::KernelRef& ref) override {
    std::string image = dir_ + "/vmlinux";
    struct stat st;
    bool present = stat(image.c_str(), &st) == 0;
    switch (ref.ref_case()) {
      case ktstr::v1::KernelRef::kCacheKey:
        if (ref.cache_key() != key_) {
          return absl::NotFoundError(absl::StrCat("kernel '", ref.cache_key(),
                                                  "' is not cached; `ktstr-client kernel list`"
                                                  " shows the available keys"));
        }
        break;
      case ktstr::v1::KernelRef::kVersion:
        if (version_.empty() || !absl::StartsWith(version_, ref.version())) {
          return absl::NotFoundError(absl::StrCat("no cached kernel has version '",
                                                  ref.version(), "'; `ktstr-client kernel"
                                                  " list` shows the available versions"));
        }
        break;
      default:
        break;
    }
    if (!present) {
      return absl::NotFoundError(absl::StrCat("the default kernel ", image,
                                              " is missing; run tools/setup to install it"));
    }
    return ResolvedKernel{key_, image};
  }

  std::vector<ktstr::v1::KernelEntry> List() override {
    std::vector<ktstr::v1::KernelEntry> out;
    struct stat st;
    if (stat((dir_ + "/vmlinux").c_str(), &st) != 0) return out;
    ktstr::v1::KernelEntry e;
    e.set_cache_key(key_);
    e.set_version(version_);
    e.set_source(ktstr::v1::KERNEL_SOURCE_DEBIAN);
    e.set_arch("x86_64");
    e.set_has_vmlinux(true);
    e.set_size_bytes(st.st_size);
    e.set_created_unix_s(st.st_mtime);
    e.set_is_default(true);
    if (auto cfg = ReadFileToString(dir_ + "/config"); cfg.ok()) {
      e.set_sched_ext(absl::StrContains(*cfg, "CONFIG_SCHED_CLASS_EXT=y"));
      e.set_btf(absl::StrContains(*cfg, "CONFIG_DEBUG_INFO_BTF=y"));
    }
    out.push_back(std::move(e));
    return out;
  }

 private:
  const std::string dir_, key_;
  std::string version_;
};

}  // namespace

std::unique_ptr<KernelResolver> NewDirKernelResolver(std::string dir, std::string key) {
  return std::make_unique<DirKernelResolver>(std::move(dir), std::move(key));
}

std::string DefaultKernelDir() {
  const char* c = std::getenv("KTSTR_CACHE_DIR");
  if (c != nullptr && c[0] == '/') return absl::StrCat(c, "/debian/default");
  const char* x = std::getenv("XDG_CACHE_HOME");
  if (x != nullptr && x[0] == '/') return absl::StrCat(x, "/ktstr/debian/default");
  const char* h = std::getenv("HOME");
  return absl::StrCat(h ? h : "/root", "/.cache/ktstr/debian/default");
}

}  // namespace ktstr::daemon
