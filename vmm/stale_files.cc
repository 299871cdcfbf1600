#include "vmm/stale_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace ktstr::vmm {
namespace {

constexpr absl::string_view kWorkDirPrefix = "ktstr-vm-";
constexpr absl::string_view kRamPrefix = "ktstr-vmram-";
constexpr absl::string_view kLockPrefix = "ktstr-vmowner-";
constexpr absl::string_view kLockSuffix = ".lock";

std::string LockPath(absl::string_view ram_dir, absl::string_view token) {
  return absl::StrCat(ram_dir, "/", kLockPrefix, token, kLockSuffix);
}

// The token in "<prefix><token>-...", or empty.
std::string TokenOf(absl::string_view name, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&name, prefix)) return "";
  size_t dash = name.find('-');
  return dash == absl::string_view::npos ? "" : std::string(name.substr(0, dash));
}

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

// True if the owner's lock file exists and nobody holds it.
bool OwnerIsDead(const std::string& ram_dir, const std::string& token) {
  int fd = open(LockPath(ram_dir, token).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no lock file: not ours to judge
  const bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return dead;
}

absl::Mutex owner_mu(absl::kConstInit);
std::string* owner_token ABSL_GUARDED_BY(owner_mu) = nullptr;
std::set<std::string>* locked_dirs ABSL_GUARDED_BY(owner_mu) = nullptr;

// At a normal exit every Vm has cleaned up after itself; drop our lock files too, unless
// files of ours remain (a leaked snapshot): then the lock stays so a later owner can judge them.
void RemoveOwnLocksAtExit() {
  absl::MutexLock lock(&owner_mu);
  if (owner_token == nullptr) return;
  const std::string ours = absl::StrCat(kRamPrefix, *owner_token, "-");
  for (const std::string& dir : *locked_dirs) {
    bool leftovers = false;
    for (const std::string& name : List(dir)) leftovers |= absl::StartsWith(name, ours);
    if (!leftovers) unlink(LockPath(dir, *owner_token).c_str());
  }
}

}  // namespace

absl::StatusOr<std::string> AcquireOwnerToken(const std::string& ram_dir) {
  absl::MutexLock lock(&owner_mu);
  if (owner_token == nullptr) {
    absl::BitGen gen;
    owner_token =
        new std::string(absl::StrFormat("%d_%08x", getpid(), absl::Uniform<uint32_t>(gen)));
    locked_dirs = new std::set<std::string>();
    atexit(RemoveOwnLocksAtExit);
  }
  if (locked_dirs->count(ram_dir)) return *owner_token;
  const std::string path = LockPath(ram_dir, *owner_token);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat("owner lock ", path, ": ", strerror(err)));
  }
  locked_dirs->insert(ram_dir);  // fd deliberately stays open: the lock lives as long as we do
  return *owner_token;
}

std::string WorkDirTemplate(absl::string_view work_dir, absl::string_view token) {
  return absl::StrCat(work_dir, "/", kWorkDirPrefix, token, "-XXXXXX");
}

std::string RamFilePrefix(absl::string_view ram_dir, absl::string_view token,
                          absl::string_view unique) {
  return absl::StrCat(ram_dir, "/", kRamPrefix, token, "-", unique);
}

int RemoveStaleVmFiles(const std::string& work_dir, const std::string& ram_dir) {
  std::map<std::string, bool> dead;  // token -> owner dead
  auto is_dead = [&](const std::string& token) {
    auto it = dead.find(token);
    if (it == dead.end()) it = dead.emplace(token, OwnerIsDead(ram_dir, token)).first;
    return it->second;
  };
  int removed = 0;
  for (const std::string& name : List(work_dir)) {
    const std::string token = TokenOf(name, kWorkDirPrefix);
    if (token.empty() || !is_dead(token)) continue;
    const std::string dir = absl::StrCat(work_dir, "/", name);
    for (const std::string& f : List(dir)) unlink(absl::StrCat(dir, "/", f).c_str());
    if (rmdir(dir.c_str()) == 0) ++removed;
  }
  for (const std::string& name : List(ram_dir)) {
    const std::string token = TokenOf(name, kRamPrefix);
    if (token.empty() || !is_dead(token)) continue;
    if (unlink(absl::StrCat(ram_dir, "/", name).c_str()) == 0) ++removed;
  }
  for (const auto& [token, owner_dead] : dead) {
    if (owner_dead && unlink(LockPath(ram_dir, token).c_str()) == 0) ++removed;
  }
  // Locks of dead owners that left no other files.
  for (const std::string& name : List(ram_dir)) {
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, kLockPrefix) || !absl::ConsumeSuffix(&rest, kLockSuffix)) {
      continue;
    }
    const std::string token(rest);
    if (!dead.count(token) && OwnerIsDead(ram_dir, token) &&
        unlink(LockPath(ram_dir, token).c_str()) == 0) {
      ++removed;
    }
  }
  if (removed > 0) {
    spdlog::info("vmm: removed {} stale VM files of dead owners in {} and {}", removed, work_dir,
                 ram_dir);
  }
  return removed;
}

}  // namespace ktstr::vmm
