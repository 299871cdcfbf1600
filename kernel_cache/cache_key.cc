#include "kernel_cache/cache_key.h"

#include <sys/utsname.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kernel_cache/kconfig.h"

namespace ktstr::kcache {

std::string HostArch() {
  struct utsname u;
  if (uname(&u) != 0) return "x86_64";
  std::string m = u.machine;
  if (m == "arm64") return "aarch64";
  return m;
}

std::string ImageRelPathForArch(absl::string_view arch) {
  if (arch == "aarch64") return "arch/arm64/boot/Image";
  return "arch/x86/boot/bzImage";
}

std::string SanitizeKeyPart(absl::string_view part) {
  std::string out(part);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || std::isspace(u) || !std::isprint(u)) c = '_';
  }
  // A leading '.' would make the key a hidden name (temporary and lock directories).
  if (!out.empty() && out[0] == '.') out[0] = '_';
  return out;
}

std::string TarballKey(absl::string_view version, absl::string_view arch, absl::string_view kc) {
  return absl::StrCat(SanitizeKeyPart(version), "-tarball-", arch, "-kc", kc);
}

std::string DebianSourceKey(absl::string_view version, absl::string_view arch,
                            absl::string_view kc) {
  return absl::StrCat(SanitizeKeyPart(version), "-debsrc-", arch, "-kc", kc);
}

std::string GitKey(absl::string_view ref, absl::string_view hash7, absl::string_view arch,
                   absl::string_view kc) {
  return absl::StrCat(SanitizeKeyPart(ref), "-git-", hash7, "-", arch, "-kc", kc);
}

std::string LocalKey(absl::string_view hash7, absl::string_view arch,
                     std::optional<absl::string_view> user_config_crc, absl::string_view kc) {
  std::string cfg = user_config_crc ? absl::StrCat("-cfg", *user_config_crc) : "";
  return absl::StrCat("local-", hash7, "-", arch, cfg, "-kc", kc);
}

std::string LocalUnknownKey(absl::string_view tree_path, absl::string_view arch,
                            absl::string_view kc) {
  return absl::StrCat("local-unknown-", Crc32Hex(tree_path), "-", arch, "-kc", kc);
}

std::string DebianKey(absl::string_view release, absl::string_view arch,
                      absl::string_view config_crc) {
  return absl::StrCat(SanitizeKeyPart(release), "-deb-", arch, "-kc", config_crc);
}

std::string ImageKey(absl::string_view release, absl::string_view arch,
                     absl::string_view image_crc) {
  return absl::StrCat(SanitizeKeyPart(release), "-image-", arch, "-kc", image_crc);
}

bool IsValidKey(absl::string_view key) {
  if (key.empty() || key == "." || key == ".." || key[0] == '.') return false;
  for (char c : key) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || std::isspace(u) || !std::isprint(u)) return false;
  }
  return true;
}

KernelSpecKind ClassifyKernelSpec(absl::string_view spec) {
  if (absl::StrContains(spec, '/') || absl::StartsWith(spec, ".") || absl::StartsWith(spec, "~")) {
    return KernelSpecKind::kPath;
  }
  // N(.N){0,2}(-rcN)?
  absl::string_view rest = spec;
  size_t rc = rest.find("-rc");
  if (rc != absl::string_view::npos) {
    absl::string_view n = rest.substr(rc + 3);
    if (n.empty() || !std::all_of(n.begin(), n.end(), ::isdigit)) {
      return KernelSpecKind::kCacheKey;
    }
    rest = rest.substr(0, rc);
  }
  int groups = 0;
  bool digit_seen = false;
  for (char c : rest) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit_seen = true;
    } else if (c == '.' && digit_seen) {
      ++groups;
      digit_seen = false;
    } else {
      return KernelSpecKind::kCacheKey;
    }
  }
  if (!digit_seen || groups > 2) return KernelSpecKind::kCacheKey;
  return KernelSpecKind::kVersion;
}

bool VersionMatches(absl::string_view version, absl::string_view requested) {
  if (requested.empty() || !absl::StartsWith(version, requested)) return false;
  if (version.size() == requested.size()) return true;
  return !std::isdigit(static_cast<unsigned char>(version[requested.size()]));
}

}  // namespace ktstr::kcache
