// A VM's serial console: every byte goes to a bounded log file and an in-memory ring.
// Offsets are absolute (bytes since the VM started), so excerpts can be cut around an event
// after more output arrived. Thread-safe.
#ifndef KTSTR_VMM_CONSOLE_LOG_H_
#define KTSTR_VMM_CONSOLE_LOG_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ktstr::vmm {

namespace config {
// In-memory ring per VM; syzkaller keeps ~128 KiB of console context around a crash, so the
// ring holds several of those.
inline constexpr size_t kConsoleRingBytes = 1 << 20;
}  // namespace config

class ConsoleLog {
 public:
  // path empty: memory only. Otherwise the file is created (truncated) and receives the first
  // file_limit bytes, then a one-line note that the rest was dropped.
  static absl::StatusOr<std::unique_ptr<ConsoleLog>> Create(
      const std::string& path, size_t file_limit, size_t ring_bytes = config::kConsoleRingBytes);
  ~ConsoleLog();
  ConsoleLog(const ConsoleLog&) = delete;
  ConsoleLog& operator=(const ConsoleLog&) = delete;

  void Append(absl::string_view data);
  // Total bytes ever appended.
  uint64_t size() const;
  // Everything still in the ring (the last ring_bytes).
  std::string Text() const;
  // [begin, end) clipped to what the ring still holds.
  std::string Excerpt(uint64_t begin, uint64_t end) const;
  const std::string& path() const { return path_; }

 private:
  ConsoleLog(std::string path, FILE* file, size_t file_limit, size_t ring_bytes);

  const std::string path_;
  const size_t file_limit_;
  const size_t ring_bytes_;
  mutable absl::Mutex mu_;
  FILE* file_ ABSL_GUARDED_BY(mu_);
  size_t file_written_ ABSL_GUARDED_BY(mu_) = 0;
  std::string ring_ ABSL_GUARDED_BY(mu_);  // circular once full
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_CONSOLE_LOG_H_
