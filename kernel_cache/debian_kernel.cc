#include "kernel_cache/debian_kernel.h"

#include <dirent.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "kernel_cache/fs_util.h"
#include "kernel_cache/subprocess.h"

namespace ktstr::kcache {
namespace {

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string FirstFile(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (IsRegularFile(c)) return c;
  }
  return "";
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// tools/setup's directory: vmlinuz + release (+ vmlinux, config, packages).
absl::StatusOr<DebianKernelFiles> FromSetupDir(const std::string& dir) {
  DebianKernelFiles f;
  absl::StatusOr<std::string> release = ReadFileToString(dir + "/release");
  if (!release.ok()) return release.status();
  f.release = std::string(absl::StripAsciiWhitespace(*release));
  f.vmlinuz = dir + "/vmlinuz";
  f.vmlinux = IsRegularFile(dir + "/vmlinux") ? dir + "/vmlinux" : "";
  f.config = IsRegularFile(dir + "/config") ? dir + "/config" : "";
  if (absl::StatusOr<std::string> p = ReadFileToString(dir + "/packages"); p.ok()) {
    std::string list(absl::StripAsciiWhitespace(*p));
    std::replace(list.begin(), list.end(), '\n', ',');
    f.packages = list;
  }
  if (f.release.empty()) return absl::InvalidArgumentError(absl::StrCat(dir, "/release is empty"));
  return f;
}

// A dpkg -x tree: usr/lib/modules/<rel>/{vmlinuz,config} or boot/{vmlinuz,config}-<rel>.
absl::StatusOr<DebianKernelFiles> FromUnpackedTree(const std::string& root) {
  for (const char* modules : {"/usr/lib/modules", "/lib/modules"}) {
    for (const std::string& rel : Entries(root + modules)) {
      std::string mdir = absl::StrCat(root, modules, "/", rel);
      DebianKernelFiles f;
      f.release = rel;
      f.vmlinuz = FirstFile({mdir + "/vmlinuz", absl::StrCat(root, "/boot/vmlinuz-", rel)});
      if (f.vmlinuz.empty()) continue;
      f.config = FirstFile({mdir + "/config", absl::StrCat(root, "/boot/config-", rel)});
      return f;
    }
  }
  for (const std::string& name : Entries(root + "/boot")) {
    if (!absl::StartsWith(name, "vmlinuz-")) continue;
    DebianKernelFiles f;
    f.release = name.substr(8);
    f.vmlinuz = absl::StrCat(root, "/boot/", name);
    f.config = FirstFile({absl::StrCat(root, "/boot/config-", f.release)});
    return f;
  }
  return absl::NotFoundError(absl::StrCat(
      "no Debian kernel in ", root,
      ": expected vmlinuz + release (tools/setup), usr/lib/modules/<release>/vmlinuz or "
      "boot/vmlinuz-<release>"));
}

}  // namespace

absl::StatusOr<DebianKernelFiles> LocateDebianKernel(const std::string& dir) {
  if (!IsDirectory(dir)) return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  if (IsRegularFile(dir + "/vmlinuz") && IsRegularFile(dir + "/release")) return FromSetupDir(dir);
  return FromUnpackedTree(dir);
}

std::vector<std::string> CompanionDebs(const std::string& deb) {
  std::vector<std::string> debs = {deb};
  std::string base = Basename(deb);
  std::string dir = deb.size() > base.size() ? deb.substr(0, deb.size() - base.size() - 1) : ".";
  absl::string_view rest = base;
  if (!absl::ConsumePrefix(&rest, "linux-binary-")) return debs;
  size_t us = rest.find('_');
  if (us == absl::string_view::npos) return debs;
  std::string wanted = absl::StrCat("linux-base-", rest.substr(0, us), "_");
  for (const std::string& name : Entries(dir)) {
    if (absl::StartsWith(name, wanted) && absl::EndsWith(name, ".deb")) {
      debs.push_back(absl::StrCat(dir, "/", name));
      break;
    }
  }
  return debs;
}

absl::Status UnpackDebs(const std::vector<std::string>& debs, const std::string& dest) {
  for (const std::string& deb : debs) {
    absl::StatusOr<CommandResult> r = RunCommandOk({"dpkg-deb", "-x", deb, dest});
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace ktstr::kcache
