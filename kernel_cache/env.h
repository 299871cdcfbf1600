// The parts of the outside world kernel discovery and cache-root resolution read: the
// environment, the current directory, the running kernel's release and which files exist.
// Behind an interface so every discovery step and its order are unit-testable with
// temporary directories (testing/fake_env.h).
#ifndef KTSTR_KERNEL_CACHE_ENV_H_
#define KTSTR_KERNEL_CACHE_ENV_H_

#include <optional>
#include <string>

namespace ktstr::kcache {

class Env {
 public:
  virtual ~Env() = default;
  // The value of an environment variable; nullopt when unset. Empty values are returned as
  // they are (callers treat "" as unset where ktstr does).
  virtual std::optional<std::string> GetEnv(const std::string& name) const = 0;
  // The current working directory (absolute).
  virtual std::string Cwd() const = 0;
  // `uname -r` of the running kernel.
  virtual std::string KernelRelease() const = 0;
  // True when `path` names a regular file (after symlinks) that can be read.
  virtual bool IsFile(const std::string& path) const = 0;
  // True when `path` names a directory (after symlinks).
  virtual bool IsDir(const std::string& path) const = 0;
};

// The process's real environment and filesystem. Thread-safe; never destroyed. An unset or
// empty HOME is taken from the password database (daemons, test runners).
const Env& RealEnv();

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_ENV_H_
