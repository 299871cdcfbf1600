#include "guest_agent/pid1.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

namespace ktstr::agent {
namespace {

struct MountSpec {
  const char* source;
  const char* target;
  const char* fstype;
  unsigned long flags;
  const char* data;
  bool required;
};

constexpr unsigned long kNoDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// Order matters: /sys before the filesystems mounted below it.
constexpr MountSpec kMounts[] = {
    {"proc", "/proc", "proc", kNoDevExec, nullptr, true},
    {"sysfs", "/sys", "sysfs", kNoDevExec, nullptr, true},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", kNoDevExec, nullptr, true},
    {"debugfs", "/sys/kernel/debug", "debugfs", kNoDevExec, nullptr, false},
    {"tracefs", "/sys/kernel/tracing", "tracefs", kNoDevExec, nullptr, false},
    {"bpf", "/sys/fs/bpf", "bpf", kNoDevExec, "mode=0700", false},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", false},
};

}  // namespace

absl::Status MountPseudoFilesystems() {
  for (const MountSpec& m : kMounts) {
    ::mkdir(m.target, 0755);  // may exist (in the archive or created by devtmpfs)
    if (::mount(m.source, m.target, m.fstype, m.flags, m.data) == 0) continue;
    if (errno == EBUSY) continue;  // already mounted (the kernel may automount devtmpfs)
    std::string err = absl::StrCat("mount ", m.fstype, " on ", m.target, ": ", std::strerror(errno));
    if (m.required) return absl::InternalError(err);
    spdlog::warn("{}", err);
  }
  // cgroup v2 controllers for tests: enable what the root offers in its children.
  std::ifstream controllers("/sys/fs/cgroup/cgroup.controllers");
  std::string all;
  std::getline(controllers, all);
  for (absl::string_view c : absl::StrSplit(all, ' ', absl::SkipEmpty())) {
    std::ofstream subtree("/sys/fs/cgroup/cgroup.subtree_control");
    subtree << "+" << c;
  }
  // /dev/fd and friends for shells and test programs.
  ::symlink("/proc/self/fd", "/dev/fd");
  ::symlink("/proc/self/fd/0", "/dev/stdin");
  ::symlink("/proc/self/fd/1", "/dev/stdout");
  ::symlink("/proc/self/fd/2", "/dev/stderr");
  return absl::OkStatus();
}

void ConsoleLine(absl::string_view line) {
  int fd = ::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;
  std::string s = absl::StrCat(line, "\n");
  ssize_t unused = ::write(fd, s.data(), s.size());
  (void)unused;
  ::close(fd);
}

std::string KernelCmdlineParam(absl::string_view key) {
  std::ifstream in("/proc/cmdline");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string prefix = absl::StrCat(key, "=");
  for (absl::string_view tok : absl::StrSplit(ss.str(), absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (absl::StartsWith(tok, prefix)) return std::string(tok.substr(prefix.size()));
  }
  return "";
}

void PowerOff(bool reboot) {
  ::sync();
  ::reboot(reboot ? RB_AUTOBOOT : RB_POWER_OFF);
  spdlog::error("reboot() failed: {}", std::strerror(errno));
}

absl::Status SetRealtimeClock(int64_t unix_ns) {
  struct timespec ts;
  ts.tv_sec = unix_ns / 1000000000;
  ts.tv_nsec = unix_ns % 1000000000;
  if (::clock_settime(CLOCK_REALTIME, &ts) != 0)
    return absl::PermissionDeniedError(absl::StrCat("clock_settime: ", std::strerror(errno)));
  return absl::OkStatus();
}

}  // namespace ktstr::agent
