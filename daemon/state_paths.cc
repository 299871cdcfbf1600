#include "daemon/state_paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ktstr::daemon {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && v[0] == '/') ? std::string(v) : fallback;
}

std::string HomeDir() {
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return home;
  struct passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_dir : "/tmp";
}

}  // namespace

std::string DefaultUserSocketPath() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/') {
    return absl::StrCat(runtime, "/ktstr/ktstrd.sock");
  }
  return absl::StrCat("/tmp/ktstr-", getuid(), "/ktstrd.sock");
}

StatePaths StatePaths::ForUser() {
  StatePaths p;
  p.socket_path = DefaultUserSocketPath();
  p.state_dir = absl::StrCat(EnvOr("XDG_STATE_HOME", HomeDir() + "/.local/state"), "/ktstr");
  p.results_db = p.state_dir + "/results.db";
  return p;
}

StatePaths StatePaths::ForSystem() {
  StatePaths p;
  p.system_mode = true;
  p.socket_path = "/run/ktstr/ktstrd.sock";
  p.state_dir = "/var/lib/ktstr";
  p.results_db = "/var/lib/ktstr/results.db";
  return p;
}

std::string StatePaths::ArtifactsDir() const { return state_dir + "/artifacts"; }
std::string StatePaths::ArtifactPath(const std::string& sha256) const {
  return absl::StrCat(ArtifactsDir(), "/", sha256);
}
std::string StatePaths::UploadsDir() const { return ArtifactsDir() + "/.incoming"; }
std::string StatePaths::QemuPidsDir() const { return state_dir + "/qemu-pids"; }
std::string StatePaths::JobLogDir(const std::string& run_id, int job_index) const {
  return absl::StrCat(state_dir, "/logs/", run_id, "/", job_index);
}
std::string StatePaths::VmWorkDir() const { return state_dir + "/vms"; }
std::string StatePaths::DaemonPidFile() const { return state_dir + "/ktstrd.pid"; }

}  // namespace ktstr::daemon
