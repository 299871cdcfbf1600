// Host side of the guest channel: talks agent.proto frames to one VM's agent over the unix
// socket QEMU exposes for the virtio-serial port (or to a --no-pid1 agent in tests).
//
// Every call takes a deadline. Connect copes with the virtio-serial quirks (vmm/README.md): the socket may exist before the guest opened its port, bytes sent before then stay
// queued in QEMU, so Connect re-sends a Ping at a modest interval until a Pong comes back.
// Several calls may run at once from different threads; replies are routed by request id.
#ifndef KTSTR_GUEST_AGENT_AGENT_CLIENT_H_
#define KTSTR_GUEST_AGENT_AGENT_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "guest_agent/wire.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

namespace config {
// How often Connect re-sends its Ping while the guest has not answered: slow enough not to
// fill QEMU's socket buffer while the guest port is closed (vmm/README.md), fast enough to notice
// a freshly booted or restored guest within a fraction of a second.
inline constexpr absl::Duration kConnectPingInterval = absl::Milliseconds(250);
// Retry interval for connect() while QEMU has not created the socket yet.
inline constexpr absl::Duration kConnectRetry = absl::Milliseconds(50);
// Messages received for one call and not yet taken by it. Beyond this the reader stops
// reading the channel until the call catches up, so a guest printing faster than its
// consumer (a shell whose gRPC client reads slowly) is slowed down instead of filling the
// daemon's memory. Other calls on the same channel wait meanwhile, as on a real terminal.
inline constexpr size_t kMaxCallInboxBytes = 4 << 20;
}  // namespace config

class AgentClient {
 public:
  using OutputFn = std::function<void(v1::Output::Stream, absl::string_view)>;
  using KernelLogFn = std::function<void(const v1::KernelLog&)>;

  // Connects to `socket_path` and waits for the agent to answer a Ping.
  static absl::StatusOr<std::unique_ptr<AgentClient>> Connect(const std::string& socket_path,
                                                              absl::Time deadline);
  // Takes an already connected stream socket (socketpair/accepted); the fd is owned.
  static absl::StatusOr<std::unique_ptr<AgentClient>> FromFd(int fd, absl::Time deadline);
  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  absl::StatusOr<v1::HelloReply> Hello(const v1::Hello& hello, absl::Time deadline);
  absl::Status Ping(absl::Time deadline);
  absl::Status SetTime(int64_t unix_ns, absl::Time deadline);
  // Sends a host file; mode 0 = the host file's permission bits.
  absl::StatusOr<v1::PutFileDone> PutFile(const std::string& host_path, const std::string& guest_path,
                                          uint32_t mode, absl::Time deadline);
  absl::StatusOr<v1::PutFileDone> PutBytes(absl::string_view data, const std::string& guest_path,
                                           uint32_t mode, absl::Time deadline);
  // Runs a program; output arrives through `on_output` as it is produced. On the deadline
  // the guest process is cancelled and DeadlineExceeded returned.
  // `on_started`, when given, gets the request id once the request is sent: another thread
  // may then feed stdin with SendStdin (exec.stdin_open) or stop it with Cancel.
  absl::StatusOr<v1::ExecExit> Exec(const v1::Exec& exec, const OutputFn& on_output, absl::Time deadline,
                                    const std::function<void(uint64_t)>& on_started = nullptr);
  // Stdin bytes for a running Exec started with stdin_open; eof closes its stdin.
  absl::Status SendStdin(uint64_t exec_request_id, absl::string_view data, bool eof, absl::Time deadline);
  // Resizes the terminal of a running Exec started with pty.
  absl::Status ResizePty(uint64_t exec_request_id, uint32_t rows, uint32_t cols, absl::Time deadline);
  // Cancels a running Exec or RunTest (its process group is killed; it reports cancelled).
  absl::Status Cancel(uint64_t target_request_id, absl::Time deadline);
  absl::StatusOr<v1::TestResult> RunTest(const v1::RunTest& run, const OutputFn& on_output,
                                         absl::Time deadline);
  // Asks the guest to power off (or reboot) and waits for its Ack.
  absl::Status Shutdown(bool reboot, absl::Time deadline);

  // Kernel log lines, after Hello{forward_kernel_log}. Set before Hello.
  void set_kernel_log_callback(KernelLogFn fn);

  // Raw bytes onto the channel, for tests of malformed input.
  absl::Status SendRaw(absl::string_view bytes, absl::Time deadline);
  // Errors the guest sent with request id 0 (bad frames) since the last call.
  std::vector<v1::Error> TakeUnsolicitedErrors();
  // False once the channel closed.
  bool connected() const { return !closed_; }
  // Bytes received for calls and not yet taken by them (bounded by kMaxCallInboxBytes per
  // call, plus one message).
  size_t buffered_bytes();

 private:
  struct Call {
    absl::Mutex mu;
    std::deque<v1::GuestToHost> inbox ABSL_GUARDED_BY(mu);
    size_t inbox_bytes ABSL_GUARDED_BY(mu) = 0;
    bool closed ABSL_GUARDED_BY(mu) = false;     // the channel closed
    bool abandoned ABSL_GUARDED_BY(mu) = false;  // the caller is gone; drop what comes
  };

  explicit AgentClient(int fd);
  void ReaderLoop();
  void Deliver(v1::GuestToHost msg);
  absl::Status Handshake(absl::Time deadline);
  uint64_t NextId() { return next_id_++; }
  std::shared_ptr<Call> Register(uint64_t id);
  void Unregister(uint64_t id);
  absl::Status Send(const v1::HostToGuest& msg, absl::Time deadline);
  // Waits for the next message for `call`; DeadlineExceeded / Unavailable on timeout / close.
  absl::StatusOr<v1::GuestToHost> Receive(Call* call, absl::Time deadline);
  // A simple request with one reply of kind `want`.
  absl::StatusOr<v1::GuestToHost> Roundtrip(v1::HostToGuest req, v1::GuestToHost::MsgCase want,
                                            absl::Time deadline);
  // Exec and RunTest: stream Output until a terminal message of kind `want`.
  absl::StatusOr<v1::GuestToHost> Streamed(v1::HostToGuest req, v1::GuestToHost::MsgCase want,
                                           const OutputFn& on_output, absl::Time deadline,
                                           const std::function<void(uint64_t)>& on_started = nullptr);

  int fd_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> closed_{false};
  std::atomic<bool> stop_{false};
  absl::Mutex send_mu_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Error> unsolicited_ ABSL_GUARDED_BY(mu_);
  KernelLogFn kernel_log_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

// Renders a guest Error reply as a status (code chosen from the ErrorCode).
absl::Status StatusFromGuestError(const v1::Error& error);

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_AGENT_CLIENT_H_
