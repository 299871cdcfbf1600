#include "vmm/stale_files.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace ktstr::vmm {
namespace {

constexpr absl::string_view kWorkDirPrefix = "ktstr-vm-";
constexpr absl::string_view kRamPrefix = "ktstr-vmram-";

// The pid in "<prefix><pid>-...", or 0.
pid_t OwnerOf(absl::string_view name, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&name, prefix)) return 0;
  size_t dash = name.find('-');
  int pid = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(0, dash), &pid)) return 0;
  return pid > 0 ? pid : 0;
}

bool OwnerIsGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  return names;
}

}  // namespace

std::string WorkDirTemplate(absl::string_view work_dir, pid_t owner) {
  return absl::StrCat(work_dir, "/", kWorkDirPrefix, owner, "-XXXXXX");
}

std::string RamFilePrefix(absl::string_view ram_dir, pid_t owner, absl::string_view unique) {
  return absl::StrCat(ram_dir, "/", kRamPrefix, owner, "-", unique);
}

int RemoveStaleVmFiles(const std::string& work_dir, const std::string& ram_dir) {
  int removed = 0;
  for (const std::string& name : List(work_dir)) {
    const pid_t owner = OwnerOf(name, kWorkDirPrefix);
    if (owner == 0 || !OwnerIsGone(owner)) continue;
    const std::string dir = absl::StrCat(work_dir, "/", name);
    for (const std::string& f : List(dir)) unlink(absl::StrCat(dir, "/", f).c_str());
    if (rmdir(dir.c_str()) == 0) ++removed;
  }
  for (const std::string& name : List(ram_dir)) {
    const pid_t owner = OwnerOf(name, kRamPrefix);
    if (owner == 0 || !OwnerIsGone(owner)) continue;
    if (unlink(absl::StrCat(ram_dir, "/", name).c_str()) == 0) ++removed;
  }
  if (removed > 0) {
    spdlog::info("vmm: removed {} stale VM files of dead owners in {} and {}", removed, work_dir,
                 ram_dir);
  }
  return removed;
}

}  // namespace ktstr::vmm
