#include "guest_agent/testlib/cgroup_manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace ktstr {
namespace config {
// A reaped worker leaves its cgroup asynchronously; rmdir answers EBUSY until it has.
constexpr auto kRmdirRetryFor = std::chrono::milliseconds(2000);
constexpr auto kRmdirRetryEvery = std::chrono::milliseconds(10);
}  // namespace config

namespace {

constexpr long kCgroup2SuperMagic = 0x63677270;

absl::Status ErrnoStatus(const std::string& what, int err) {
  return absl::Status(
      err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
      absl::StrCat(what, ": ", strerror(err)));
}

absl::Status WriteFile(const std::string& path, absl::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path), errno);
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0 || static_cast<size_t>(n) != value.size()) {
    return ErrnoStatus(absl::StrCat("write '", value, "' to ", path), n < 0 ? err : EIO);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoStatus(absl::StrCat("read ", path), errno ? errno : ENOENT);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> SubDirs(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      out.push_back(e->d_name);
    }
  }
  closedir(d);
  return out;
}

// rmdir children first; retries EBUSY for a short while.
absl::Status RemoveTree(const std::string& path) {
  for (const std::string& child : SubDirs(path)) {
    absl::Status s = RemoveTree(path + "/" + child);
    if (!s.ok()) return s;
  }
  const auto deadline = std::chrono::steady_clock::now() + config::kRmdirRetryFor;
  while (rmdir(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
      return ErrnoStatus(absl::StrCat("rmdir ", path), errno);
    }
    std::this_thread::sleep_for(config::kRmdirRetryEvery);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CgroupOps::MoveAllTasks(absl::string_view from, absl::string_view to) {
  absl::StatusOr<std::vector<pid_t>> tasks = Tasks(from);
  if (!tasks.ok()) return tasks.status();
  for (pid_t pid : *tasks) {
    absl::Status s = MoveTask(to, pid);
    if (!s.ok() && kill(pid, 0) == 0) return s;  // a task that exited meanwhile is fine
  }
  return absl::OkStatus();
}

int RemoveStaleRoots(const std::string& hierarchy) {
  int removed = 0;
  for (const std::string& name : SubDirs(hierarchy)) {
    int pid = 0;
    if (!absl::StartsWith(name, "ktstr-") || !absl::SimpleAtoi(name.substr(6), &pid)) continue;
    if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (RemoveTree(hierarchy + "/" + name).ok()) {
      spdlog::info("removed stale cgroup {}/{} (pid {} is gone)", hierarchy, name, pid);
      ++removed;
    }
  }
  return removed;
}

absl::StatusOr<CgroupFlavor> CgroupManager::Detect(absl::string_view mount_root) {
  const std::string root(mount_root);
  struct statfs fs;
  if (statfs(root.c_str(), &fs) == 0 && fs.f_type == kCgroup2SuperMagic) {
    absl::StatusOr<std::string> ctrls = ReadFile(root + "/cgroup.controllers");
    if (ctrls.ok() && absl::StrContains(*ctrls, "cpuset")) return CgroupFlavor::kV2;
  }
  if (IsDir(root + "/cpuset") && access((root + "/cpuset/cpuset.cpus").c_str(), W_OK) == 0) {
    return CgroupFlavor::kV1Cpuset;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no usable cgroup hierarchy: ", root,
                   " is not a cgroup2 mount offering the cpuset "
                   "controller, and ",
                   root,
                   "/cpuset is not a writable cgroup v1 cpuset hierarchy. Mount "
                   "cgroup2 on ",
                   root, " (as ktstr's VMs do) or the v1 cpuset controller, and run as root"));
}

absl::StatusOr<std::unique_ptr<CgroupManager>> CgroupManager::Open(absl::string_view root_name,
                                                                   absl::string_view mount_root) {
  absl::StatusOr<CgroupFlavor> flavor = Detect(mount_root);
  if (!flavor.ok()) return flavor.status();
  std::string hierarchy(mount_root);
  if (*flavor == CgroupFlavor::kV1Cpuset) hierarchy += "/cpuset";
  RemoveStaleRoots(hierarchy);
  std::unique_ptr<CgroupManager> mgr(
      new CgroupManager(*flavor, hierarchy, absl::StrCat(hierarchy, "/", root_name)));
  if (*flavor == CgroupFlavor::kV2) mgr->EnableControllers(hierarchy);
  if (IsDir(mgr->root_)) {
    return absl::AlreadyExistsError(absl::StrCat(mgr->root_, " already exists"));
  }
  absl::Status s = mgr->MakeDir(mgr->root_);
  if (!s.ok()) {
    mgr->removed_ = true;
    return s;
  }
  return mgr;
}

CgroupManager::~CgroupManager() {
  absl::Status s = RemoveAll();
  if (!s.ok()) spdlog::error("cgroup cleanup: {}", s.ToString());
}

absl::Status CgroupManager::RemoveAll() {
  if (removed_) return absl::OkStatus();
  absl::Status s = RemoveTree(root_);
  if (s.ok()) removed_ = true;
  return s;
}

std::string CgroupManager::Describe() const {
  return flavor_ == CgroupFlavor::kV2 ? absl::StrCat("cgroup2 at ", hierarchy_)
                                      : absl::StrCat("cgroup v1 cpuset at ", hierarchy_);
}

std::string CgroupManager::PathOf(absl::string_view name) const {
  return name.empty() ? root_ : absl::StrCat(root_, "/", name);
}

void CgroupManager::EnableControllers(const std::string& dir) {
  // Best effort: the cpu controller is welcome but optional; cpuset is what scenarios need.
  // A cgroup holding tasks cannot delegate (v2's no-internal-process rule): its children then
  // run without their own cpuset, which SetCpuset reports.
  for (const char* ctrl : {"+cpuset", "+cpu"}) {
    absl::Status s = WriteFile(dir + "/cgroup.subtree_control", ctrl);
    if (!s.ok()) spdlog::debug("enable {} in {}: {}", ctrl, dir, s.ToString());
  }
}

absl::Status CgroupManager::MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(absl::StrCat("mkdir ", path), errno);
  }
  if (flavor_ == CgroupFlavor::kV2) {
    EnableControllers(path);
    return absl::OkStatus();
  }
  // v1 cpuset: a new group starts with empty cpus/mems (unless the parent has clone_children),
  // and a group with empty cpus cannot take tasks. Copy the parent's.
  const std::string parent = path.substr(0, path.rfind('/'));
  for (const char* file : {"cpuset.mems", "cpuset.cpus"}) {
    absl::StatusOr<std::string> cur = ReadFile(path + "/" + file);
    if (cur.ok() && !absl::StripAsciiWhitespace(*cur).empty()) continue;
    absl::StatusOr<std::string> v = ReadFile(parent + "/" + file);
    if (!v.ok()) return v.status();
    absl::Status s = WriteFile(path + "/" + file, absl::StripAsciiWhitespace(*v));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CgroupManager::Create(absl::string_view name) {
  if (name.empty()) return absl::OkStatus();
  if (absl::StrContains(name, "..") || absl::StartsWith(name, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup name '", name, "'"));
  }
  std::string path = root_;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    path = absl::StrCat(path, "/", part);
    absl::Status s = MakeDir(path);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CgroupManager::Remove(absl::string_view name) {
  if (name.empty()) return RemoveAll();
  return RemoveTree(PathOf(name));
}

absl::Status CgroupManager::SetCpuset(absl::string_view name, const CpuSet& cpus) {
  if (cpus.empty())
    return absl::InvalidArgumentError("empty cpuset for cgroup " + std::string(name));
  const std::string path = PathOf(name);
  if (flavor_ == CgroupFlavor::kV2 && access((path + "/cpuset.cpus").c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup ", name,
                     " has no cpuset.cpus (its parent holds tasks, so cgroup v2 cannot "
                     "delegate the cpuset controller to it)"));
  }
  if (flavor_ == CgroupFlavor::kV1Cpuset) {
    // v1 requires children to stay within the parent: shrink children that would not fit.
    for (const std::string& child : SubDirs(path)) {
      absl::StatusOr<std::string> cur = ReadFile(path + "/" + child + "/cpuset.cpus");
      if (!cur.ok()) continue;
      absl::StatusOr<CpuSet> child_cpus = ParseCpuList(*cur);
      if (child_cpus.ok() && !CpuSubset(*child_cpus, cpus)) {
        CpuSet fit = CpuIntersect(*child_cpus, cpus);
        absl::Status s =
            SetCpuset(absl::StrCat(name, name.empty() ? "" : "/", child), fit.empty() ? cpus : fit);
        if (!s.ok()) return s;
      }
    }
  }
  return WriteFile(path + "/cpuset.cpus", FormatCpuList(cpus));
}

absl::Status CgroupManager::ClearCpuset(absl::string_view name) {
  const std::string path = PathOf(name);
  if (flavor_ == CgroupFlavor::kV2) return WriteFile(path + "/cpuset.cpus", "\n");
  absl::StatusOr<std::string> parent = ReadFile(path.substr(0, path.rfind('/')) + "/cpuset.cpus");
  if (!parent.ok()) return parent.status();
  return WriteFile(path + "/cpuset.cpus", absl::StripAsciiWhitespace(*parent));
}

absl::StatusOr<CpuSet> CgroupManager::EffectiveCpus(absl::string_view name) {
  const std::string path = PathOf(name);
  const char* file = flavor_ == CgroupFlavor::kV2 ? "/cpuset.cpus.effective" : "/cpuset.cpus";
  absl::StatusOr<std::string> text = ReadFile(path + file);
  if (!text.ok()) return text.status();
  return ParseCpuList(*text);
}

absl::Status CgroupManager::MoveTask(absl::string_view name, pid_t pid) {
  return WriteFile(PathOf(name) + "/cgroup.procs", absl::StrCat(pid));
}

absl::StatusOr<std::vector<pid_t>> CgroupManager::Tasks(absl::string_view name) {
  absl::StatusOr<std::string> text = ReadFile(PathOf(name) + "/cgroup.procs");
  if (!text.ok()) return text.status();
  std::vector<pid_t> out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid)) out.push_back(pid);
  }
  return out;
}

bool CgroupManager::Exists(absl::string_view name) const { return IsDir(PathOf(name)); }

}  // namespace ktstr
