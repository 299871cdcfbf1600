#include "guest_agent/testlib/ctx.h"

#include <errno.h>
#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ktstr {

std::atomic<bool> g_interrupted{false};

bool Ctx::SchedulerAlive() const {
  if (!sched_pid.has_value()) return true;
  if (kill(*sched_pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat(absl::StrCat("/proc/", *sched_pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

std::string ActiveSchedulerName() {
  std::ifstream in("/sys/kernel/sched_ext/root/ops");
  std::string line;
  if (in && std::getline(in, line)) {
    std::string name(absl::StripAsciiWhitespace(line));
    if (!name.empty()) return name;
  }
  return "eevdf";
}

}  // namespace ktstr
