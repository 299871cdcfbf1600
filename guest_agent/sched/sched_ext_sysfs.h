// /sys/kernel/sched_ext as the kernel shows it: `state` (disabled/enabling/enabled/disabling),
// `root/ops` (the scheduler's name, present only while one is loaded) and `enable_seq` (count
// of successful enables). The root is a parameter so tests use a fake directory.
#ifndef KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_SYSFS_H_
#define KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_SYSFS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace ktstr::agent {

class SchedExtSysfs {
 public:
  explicit SchedExtSysfs(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // False when the kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT unset).
  bool Present() const;
  // The first line of `state`, "" if unreadable.
  std::string State() const;
  // The first line of `root/ops`; nullopt while no scheduler is loaded.
  std::optional<std::string> RootOps() const;
  // `enable_seq`; nullopt on kernels without it.
  std::optional<uint64_t> EnableSeq() const;
  // state == "enabled" and root/ops names `ops_name` ("" = any name).
  bool EnabledAs(const std::string& ops_name) const;

 private:
  std::string root_;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_SCHED_EXT_SYSFS_H_
