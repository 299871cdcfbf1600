// The agent's request dispatcher: decodes frames, validates them, and serves hello, put,
// exec, run test, cancel, stdin, ping, set time and shutdown. Long requests (exec, run test)
// run on their own threads, so one request's output never holds up another request.
// Bad input gets an Error reply and the server keeps going.
#ifndef KTSTR_GUEST_AGENT_AGENT_SERVER_H_
#define KTSTR_GUEST_AGENT_AGENT_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "guest_agent/exec.h"
#include "guest_agent/files.h"
#include "guest_agent/kmsg.h"
#include "guest_agent/scheduler_starter.h"
#include "guest_agent/wire.h"
#include "proto/ktstr/agent/v1/agent.pb.h"

namespace ktstr::agent {

inline constexpr char kAgentVersion[] = "ktstr-agent 0.1";

namespace config {
// Exec/RunTest requests running at once; beyond this the host gets BUSY.
inline constexpr size_t kMaxConcurrentJobs = 64;
}  // namespace config

// Where replies go. Send is thread-safe and writes whole frames.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void Send(const v1::GuestToHost& msg) = 0;
};

// Writes frames to a file descriptor under a mutex. The fd is not owned.
class FdMessageSink : public MessageSink {
 public:
  explicit FdMessageSink(int fd) : fd_(fd) {}
  void Send(const v1::GuestToHost& msg) override;

 private:
  absl::Mutex mu_;
  int fd_;
};

struct AgentServerOptions {
  std::string sys_root = "/sys";
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
  bool allow_set_time = true;     // false in host tests: never touch the host clock
  bool allow_kernel_log = true;   // false in host tests: the host's kmsg is not ours
  SchedulerStarter* scheduler_starter = nullptr;  // not owned; null = no scheduler support
  // Called after the Ack to a Shutdown request has been sent.
  std::function<void(bool reboot)> on_shutdown;
};

class AgentServer {
 public:
  AgentServer(AgentServerOptions options, MessageSink* sink);
  ~AgentServer();  // cancels and joins every running request
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  // Feeds bytes read from the channel; handles every complete frame in them.
  void OnBytes(absl::string_view bytes);

  // Handles one frame payload (exposed for the fuzzer and tests).
  void HandlePayload(absl::string_view payload);

  // Cancels every running request (their replies still go out) and waits for them.
  void CancelAll();

  size_t running_jobs();

 private:
  struct Job {
    uint64_t id = 0;
    std::thread thread;
    std::atomic<bool> done{false};
    absl::Mutex mu;
    RunningProcess* proc ABSL_GUARDED_BY(mu) = nullptr;
    bool cancel_requested ABSL_GUARDED_BY(mu) = false;
    // Stdin that arrived before the process was started.
    std::string early_stdin ABSL_GUARDED_BY(mu);
    bool early_stdin_eof ABSL_GUARDED_BY(mu) = false;
  };

  void SendError(uint64_t id, v1::ErrorCode code, absl::string_view message);
  void Handle(const v1::HostToGuest& msg);
  void HandleHello(uint64_t id, const v1::Hello& hello);
  void StartJob(uint64_t id, std::function<void(Job*)> body);
  void RunExec(Job* job, v1::Exec exec);
  void RunTestJob(Job* job, v1::RunTest req);
  // Runs a process for a job, publishing it for Cancel/Stdin; null outcome on start failure.
  absl::StatusOr<ProcessOutcome> RunJobProcess(Job* job, const ProcessSpec& spec);
  absl::StatusOr<std::string> PrepareCgroup(const std::string& cgroup);
  void ReapFinishedJobs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(jobs_mu_);

  AgentServerOptions options_;
  MessageSink* sink_;
  FrameDecoder decoder_;
  FileReceiver files_;  // only touched from the reading thread
  std::unique_ptr<KmsgForwarder> kmsg_;
  absl::Mutex jobs_mu_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(jobs_mu_);
};

}  // namespace ktstr::agent

#endif  // KTSTR_GUEST_AGENT_AGENT_SERVER_H_
