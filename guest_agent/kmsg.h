// Forwards new /dev/kmsg records to the host as KernelLog messages (request_id 0).
#ifndef KTSTR_GUEST_AGENT_KMSG_H_
#define KTSTR_GUEST_AGENT_KMSG_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

// Parses one /dev/kmsg record: "prio,seq,timestamp_us,flags[,...];message\n[ continuation]".
std::optional<v1::KernelLog> ParseKmsgRecord(absl::string_view record);

class KmsgForwarder {
 public:
  // Opens `path` positioned after the records already there, and starts forwarding.
  static absl::StatusOr<std::unique_ptr<KmsgForwarder>> Start(
      const std::string& path, std::function<void(const v1::KernelLog&)> emit);
  ~KmsgForwarder();

 private:
  KmsgForwarder() = default;
  void Loop();

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::function<void(const v1::KernelLog&)> emit_;
  std::thread thread_;
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_KMSG_H_
