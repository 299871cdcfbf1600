// Background binaries started by the RunPayload op (ktstr's payloads): each is forked, placed
// in its cgroup before it execs, and waited for or killed by name. Nothing outlives the set.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_PAYLOADS_H_
#define KTSTR_GUEST_AGENT_TESTLIB_PAYLOADS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ktstr {

class PayloadSet {
 public:
  PayloadSet() = default;
  ~PayloadSet();  // SIGKILLs and reaps every payload still running
  PayloadSet(const PayloadSet&) = delete;
  PayloadSet& operator=(const PayloadSet&) = delete;

  // Forks `binary args...` (PATH lookup), calls place(pid) before it execs, then lets it run.
  // `scope` tags it for KillScope.
  absl::Status Start(const std::string& name, const std::string& cgroup, const std::string& binary,
                     const std::vector<std::string>& args, int scope,
                     const std::function<absl::Status(pid_t)>& place);
  // Waits for it to exit (no timeout, but `interrupted()` ends the wait with Cancelled).
  // Returns the wait status.
  absl::StatusOr<int> Wait(const std::string& name, const std::string& cgroup,
                           const std::function<bool()>& interrupted);
  absl::Status Kill(const std::string& name, const std::string& cgroup);
  void KillScope(int scope);
  void KillAll();

 private:
  struct Proc {
    std::string name, cgroup;
    pid_t pid = -1;
    int scope = 0;
  };
  std::vector<Proc>::iterator Find(const std::string& name, const std::string& cgroup);
  std::vector<Proc> procs_;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_PAYLOADS_H_
