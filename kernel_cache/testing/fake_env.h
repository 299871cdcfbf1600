// An Env for discovery tests: environment variables, cwd and `uname -r` are set by the
// test; absolute paths are looked up under a real temporary "sysroot" directory, so
// /boot/vmlinuz or /lib/modules/<rel>/vmlinuz exist only when the test creates them there.
#ifndef KTSTR_KERNEL_CACHE_TESTING_FAKE_ENV_H_
#define KTSTR_KERNEL_CACHE_TESTING_FAKE_ENV_H_

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>

#include "kernel_cache/env.h"

namespace ktstr::kcache::testing {

class FakeEnv : public Env {
 public:
  explicit FakeEnv(std::string sysroot) : sysroot_(std::move(sysroot)) {}

  void Set(const std::string& name, const std::string& value) { vars_[name] = value; }
  void SetCwd(std::string cwd) { cwd_ = std::move(cwd); }
  void SetRelease(std::string release) { release_ = std::move(release); }
  // The real path behind a path the code under test sees.
  std::string Real(const std::string& path) const { return sysroot_ + path; }

  std::optional<std::string> GetEnv(const std::string& name) const override {
    auto it = vars_.find(name);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  }
  std::string Cwd() const override { return cwd_; }
  std::string KernelRelease() const override { return release_; }
  bool IsFile(const std::string& path) const override {
    struct stat st;
    return stat(Real(path).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  bool IsDir(const std::string& path) const override {
    struct stat st;
    return stat(Real(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

 private:
  std::string sysroot_;
  std::map<std::string, std::string> vars_;
  std::string cwd_ = "/home/dev/proj";
  std::string release_ = "6.1.0-test-amd64";
};

}  // namespace ktstr::kcache::testing

#endif  // KTSTR_KERNEL_CACHE_TESTING_FAKE_ENV_H_
