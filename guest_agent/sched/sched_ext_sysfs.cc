#include "guest_agent/sched/sched_ext_sysfs.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/numbers.h"

namespace ktstr::agent {
namespace {

std::optional<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  if (in.bad()) return std::nullopt;
  return line;
}

}  // namespace

bool SchedExtSysfs::Present() const {
  struct stat st;
  return stat(root_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string SchedExtSysfs::State() const {
  return ReadFirstLine(root_ + "/state").value_or("");
}

std::optional<std::string> SchedExtSysfs::RootOps() const {
  return ReadFirstLine(root_ + "/root/ops");
}

std::optional<uint64_t> SchedExtSysfs::EnableSeq() const {
  std::optional<std::string> text = ReadFirstLine(root_ + "/enable_seq");
  uint64_t v;
  if (!text || !absl::SimpleAtoi(*text, &v)) return std::nullopt;
  return v;
}

bool SchedExtSysfs::EnabledAs(const std::string& ops_name) const {
  if (State() != "enabled") return false;
  std::optional<std::string> ops = RootOps();
  return ops && !ops->empty() && (ops_name.empty() || *ops == ops_name);
}

}  // namespace ktstr::agent
