#include "daemon/qemu_reaper.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/fs_util.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {

void RecordQemuPid(const std::string& dir, pid_t pid) {
  if (pid <= 0) return;  // fakes have no process
  if (!MakeDirs(dir, 0700).ok()) return;
  (void)WriteFileAtomically(absl::StrCat(dir, "/", pid), absl::StrCat(pid, "\n"));
}

void ForgetQemuPid(const std::string& dir, pid_t pid) {
  unlink(absl::StrCat(dir, "/", pid).c_str());
}

int KillRecordedQemus(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int killed = 0;
  while (dirent* e = readdir(d)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 1) continue;
    // argv[0]'s basename must be qemu-system-*: comm ("qemu...") alone would also match
    // other programs whose names start with "qemu".
    absl::StatusOr<std::string> cmdline =
        ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string argv0 = cmdline.ok() ? std::string(cmdline->c_str()) : "";
    argv0 = argv0.substr(argv0.rfind('/') + 1);
    if (absl::StartsWith(argv0, "qemu-system")) {
      spdlog::warn("killing QEMU pid {} left by a previous ktstrd", pid);
      if (kill(pid, SIGKILL) == 0) ++killed;
    }
    ForgetQemuPid(dir, pid);
  }
  closedir(d);
  return killed;
}

}  // namespace ktstr::daemon
