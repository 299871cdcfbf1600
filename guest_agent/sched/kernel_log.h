// The kernel log as a stream of new messages, behind an interface so the supervisor's
// classification can be tested on recorded kernel lines (FakeKernelLog) and run on /dev/kmsg.
#ifndef KTSTR_GUEST_AGENT_SCHED_KERNEL_LOG_H_
#define KTSTR_GUEST_AGENT_SCHED_KERNEL_LOG_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::agent {

class KernelLogSource {
 public:
  virtual ~KernelLogSource() = default;
  // Messages logged since the previous call (or since the source was opened), oldest first,
  // without the kmsg header. Never blocks.
  virtual std::vector<std::string> ReadNew() = 0;
};

// /dev/kmsg, positioned at its end when opened: only messages logged afterwards are read.
class DevKmsgSource : public KernelLogSource {
 public:
  static absl::StatusOr<std::unique_ptr<DevKmsgSource>> Open(
      const std::string& path = "/dev/kmsg");
  ~DevKmsgSource() override;
  DevKmsgSource(const DevKmsgSource&) = delete;
  DevKmsgSource& operator=(const DevKmsgSource&) = delete;

  std::vector<std::string> ReadNew() override;

 private:
  explicit DevKmsgSource(int fd) : fd_(fd) {}
  int fd_;
};

// One /dev/kmsg record "PRIO,SEQ,USEC,FLAGS[,…];MESSAGE\n[ KEY=VALUE\n…]" → MESSAGE, with the
// kernel's \xNN escapes left as they are. nullopt for a malformed record.
std::optional<std::string> ParseKmsgRecord(absl::string_view record);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_SCHED_KERNEL_LOG_H_
