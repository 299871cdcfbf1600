// Cgroups for a scenario: one subtree ("ktstr-<pid>") under the cpuset-capable hierarchy,
// created, populated and removed by the engine. Two backends behind one interface:
//   - cgroup v2 (the product path: the VMs mount pure v2 at /sys/fs/cgroup, as do modern
//     hosts);
//   - the v1 cpuset hierarchy (/sys/fs/cgroup/cpuset) for bare-metal runs on hybrid hosts.
// Detected once at start; a clear error names both when neither is usable.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_CGROUP_MANAGER_H_
#define KTSTR_GUEST_AGENT_TESTLIB_CGROUP_MANAGER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "guest_agent/testlib/topology.h"

namespace ktstr {

// Cgroup operations on names relative to the manager's root ("cg_0", "cg_0/inner"); the empty
// name is the root itself. Not thread-safe (the engine is single-threaded).
class CgroupOps {
 public:
  virtual ~CgroupOps() = default;
  // Absolute path of the subtree root, e.g. "/sys/fs/cgroup/ktstr-1234".
  virtual std::string root_path() const = 0;
  // "cgroup2 at /sys/fs/cgroup" or "cgroup v1 cpuset at /sys/fs/cgroup/cpuset".
  virtual std::string Describe() const = 0;
  // mkdir, creating missing parents. AlreadyExists is not an error.
  virtual absl::Status Create(absl::string_view name) = 0;
  // rmdir of the cgroup and its children (deepest first). Tasks must be gone; a task that has
  // just been reaped may linger briefly, so EBUSY is retried for a short while.
  virtual absl::Status Remove(absl::string_view name) = 0;
  virtual absl::Status SetCpuset(absl::string_view name, const CpuSet& cpus) = 0;
  // Back to "no restriction" (v2: empty, i.e. the parent's; v1: the parent's CPUs).
  virtual absl::Status ClearCpuset(absl::string_view name) = 0;
  // The CPUs the cgroup's tasks may use now (cpuset.cpus.effective / cpuset.cpus).
  virtual absl::StatusOr<CpuSet> EffectiveCpus(absl::string_view name) = 0;
  virtual absl::Status MoveTask(absl::string_view name, pid_t pid) = 0;
  virtual absl::StatusOr<std::vector<pid_t>> Tasks(absl::string_view name) = 0;
  virtual bool Exists(absl::string_view name) const = 0;
  // Moves every task of `from` to `to`; tasks that exit meanwhile are ignored.
  absl::Status MoveAllTasks(absl::string_view from, absl::string_view to);
};

enum class CgroupFlavor { kV2, kV1Cpuset };

// The real implementation. Its destructor stops nothing (workers are the engine's) but
// removes every cgroup it created, deepest first, including the root.
class CgroupManager : public CgroupOps {
 public:
  // Detects the flavor under `mount_root` ("/sys/fs/cgroup"), removes stale "ktstr-<pid>"
  // directories of dead processes, and creates `root_name` ("ktstr-<pid>").
  static absl::StatusOr<std::unique_ptr<CgroupManager>> Open(
      absl::string_view root_name, absl::string_view mount_root = "/sys/fs/cgroup");
  // Which hierarchy `mount_root` offers; FailedPrecondition explaining both options if none.
  static absl::StatusOr<CgroupFlavor> Detect(absl::string_view mount_root);

  ~CgroupManager() override;
  CgroupManager(const CgroupManager&) = delete;
  CgroupManager& operator=(const CgroupManager&) = delete;

  std::string root_path() const override { return root_; }
  std::string Describe() const override;
  absl::Status Create(absl::string_view name) override;
  absl::Status Remove(absl::string_view name) override;
  absl::Status SetCpuset(absl::string_view name, const CpuSet& cpus) override;
  absl::Status ClearCpuset(absl::string_view name) override;
  absl::StatusOr<CpuSet> EffectiveCpus(absl::string_view name) override;
  absl::Status MoveTask(absl::string_view name, pid_t pid) override;
  absl::StatusOr<std::vector<pid_t>> Tasks(absl::string_view name) override;
  bool Exists(absl::string_view name) const override;
  CgroupFlavor flavor() const { return flavor_; }
  // Removes the whole subtree now (the destructor does it too).
  absl::Status RemoveAll();

 private:
  CgroupManager(CgroupFlavor flavor, std::string hierarchy, std::string root)
      : flavor_(flavor), hierarchy_(std::move(hierarchy)), root_(std::move(root)) {}
  std::string PathOf(absl::string_view name) const;
  absl::Status MakeDir(const std::string& path);
  void EnableControllers(const std::string& dir);

  CgroupFlavor flavor_;
  std::string hierarchy_;  // the mount: /sys/fs/cgroup or /sys/fs/cgroup/cpuset
  std::string root_;       // hierarchy_ + "/ktstr-<pid>"
  bool removed_ = false;
};

// rmdir's "ktstr-<pid>" directories under `hierarchy` whose pid is not alive (left by a
// harness that was SIGKILLed). Returns how many were removed.
int RemoveStaleRoots(const std::string& hierarchy);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_CGROUP_MANAGER_H_
