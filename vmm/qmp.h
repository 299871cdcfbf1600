// A minimal QMP client: JSON objects, one per line, over a unix socket. Asynchronous events
// are skipped; each command carries an id and waits for its "return" or "error".
#ifndef KTSTR_VMM_QMP_H_
#define KTSTR_VMM_QMP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ktstr::vmm {

namespace config {
// QMP commands answer in milliseconds; a stuck QEMU must not hang the pool.
inline constexpr absl::Duration kQmpCommandTimeout = absl::Seconds(30);
}  // namespace config

class QmpClient {
 public:
  // Connects (retrying while the socket does not exist yet), reads the greeting and
  // negotiates capabilities, all before `deadline`.
  static absl::StatusOr<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path,
                                                            absl::Time deadline);
  // Takes ownership of a connected fd (tests use a socketpair) and negotiates.
  static absl::StatusOr<std::unique_ptr<QmpClient>> FromFd(int fd, absl::Time deadline);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs `command` with `arguments_json` (a JSON object, or empty). Returns the JSON text of
  // "return"; a QMP "error" becomes an error status with its class and description.
  absl::StatusOr<std::string> Execute(absl::string_view command,
                                      absl::string_view arguments_json = "");

  // "running", "paused", "inmigrate", "postmigrate", ...
  absl::StatusOr<std::string> QueryStatus();
  absl::Status Stop();
  absl::Status Cont();
  // QEMU exits after answering; the connection then closes.
  absl::Status Quit();
  absl::Status SetMigrationCapability(absl::string_view capability, bool state);
  absl::Status Migrate(absl::string_view uri);
  absl::Status MigrateIncoming(absl::string_view uri);
  // "active", "completed", "failed", ... ("none" before any migration).
  absl::StatusOr<std::string> QueryMigrateStatus();
  // Host thread ids of the vCPUs, by CPU index.
  absl::StatusOr<std::vector<int>> VcpuThreadIds();

  void set_timeout(absl::Duration timeout) { timeout_ = timeout; }

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  absl::Status Negotiate(absl::Time deadline);
  // Next complete line (without the newline) before `deadline`.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);
  absl::Status WriteAll(absl::string_view data, absl::Time deadline);

  int fd_;
  std::string buffer_;
  int next_id_ = 1;
  absl::Duration timeout_ = config::kQmpCommandTimeout;
};

// Quotes a string as a JSON string literal.
std::string JsonQuote(absl::string_view s);

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_QMP_H_
