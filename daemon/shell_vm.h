// A VM serving one interactive shell (daemon/shell_session.h): files go in, one command runs
// on a pseudo-terminal, stdin and terminal resizes go to it while it runs. The executor
// makes them (JobExecutor::StartShellVm); the session knows neither QEMU nor the agent.
#ifndef KTSTR_DAEMON_SHELL_VM_H_
#define KTSTR_DAEMON_SHELL_VM_H_

#include <google/protobuf/repeated_field.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/ktstr/v1/topology.pb.h"

namespace ktstr::daemon {

namespace config {
// One agent call of a shell (a file put, a stdin chunk, a resize): generous for TCG on a
// loaded host.
inline constexpr absl::Duration kShellAgentCallTimeout = absl::Seconds(120);
}  // namespace config

// A host file to place in the guest.
struct GuestFileSource {
  std::string host_path;
  std::string guest_path;
  uint32_t mode = 0644;
};

// Which VM a shell wants.
struct ShellVmRequest {
  std::string kernel_key;
  std::string kernel_image_path;
  ktstr::v1::VmShape shape;
  // Appended to the guest kernel command line (validated: daemon/shape.h ValidateKernelArgs).
  google::protobuf::RepeatedPtrField<std::string> kernel_args;
};

// One command on a terminal.
struct PtyCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  uint32_t rows = 24;
  uint32_t cols = 80;
};

class ShellVm {
 public:
  using OutputFn = std::function<void(absl::string_view)>;

  // Destroying it kills the VM (QEMU reaped, its files removed).
  virtual ~ShellVm() = default;

  virtual std::string id() const = 0;
  virtual bool warm() const = 0;  // a restored clone rather than a cold boot
  virtual absl::Status PutFile(const GuestFileSource& file, absl::Time deadline) = 0;
  // Runs `cmd` until it exits and returns its exit status (128 + N when killed by signal N).
  // Terminal output arrives through `output`; `on_started` runs once SendStdin and Resize
  // reach the command. DEADLINE_EXCEEDED at `deadline`, UNAVAILABLE when the VM went away.
  virtual absl::StatusOr<int> RunOnPty(const PtyCommand& cmd, const OutputFn& output,
                                       const std::function<void()>& on_started,
                                       absl::Time deadline) = 0;
  // Bytes typed into the running command's terminal.
  virtual absl::Status SendStdin(absl::string_view data) = 0;
  virtual absl::Status Resize(uint32_t rows, uint32_t cols) = 0;
  // Kills the VM now, from any thread: a blocked RunOnPty returns. Idempotent.
  virtual void Kill() = 0;
};

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_SHELL_VM_H_
