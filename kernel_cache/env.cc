#include "kernel_cache/env.h"

#include <pwd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace ktstr::kcache {
namespace {

class RealEnvImpl : public Env {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    const char* v = std::getenv(name.c_str());
    if (v != nullptr && (*v != '\0' || name != "HOME")) return std::string(v);
    if (name == "HOME") {
      // Processes started by systemd or a test runner may lack HOME; the user's home from
      // the password database still finds their cache.
      struct passwd* pw = getpwuid(getuid());
      if (pw != nullptr && pw->pw_dir != nullptr && pw->pw_dir[0] == '/') return pw->pw_dir;
    }
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }
  std::string Cwd() const override {
    std::error_code ec;
    auto p = std::filesystem::current_path(ec);
    return ec ? std::string(".") : p.string();
  }
  std::string KernelRelease() const override {
    struct utsname u;
    if (uname(&u) != 0) return "";
    return u.release;
  }
  bool IsFile(const std::string& path) const override {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), R_OK) == 0;
  }
  bool IsDir(const std::string& path) const override {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
};

}  // namespace

const Env& RealEnv() {
  static const RealEnvImpl* env = new RealEnvImpl();
  return *env;
}

}  // namespace ktstr::kcache
