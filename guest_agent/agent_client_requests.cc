// AgentClient's typed requests, built on Roundtrip/Streamed (agent_client.cc).
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "guest_agent/agent_client.h"

namespace ktstr::agent {

absl::StatusOr<v1::HelloReply> AgentClient::Hello(const v1::Hello& hello, absl::Time deadline) {
  v1::HostToGuest req;
  *req.mutable_hello() = hello;
  auto r = Roundtrip(std::move(req), v1::GuestToHost::kHello, deadline);
  if (!r.ok()) return r.status();
  return r->hello();
}

absl::Status AgentClient::Ping(absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_ping()->set_seq(1);
  return Roundtrip(std::move(req), v1::GuestToHost::kPong, deadline).status();
}

absl::Status AgentClient::SetTime(int64_t unix_ns, absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_set_time()->set_unix_ns(unix_ns);
  return Roundtrip(std::move(req), v1::GuestToHost::kAck, deadline).status();
}

absl::Status AgentClient::Shutdown(bool reboot, absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_shutdown()->set_reboot(reboot);
  return Roundtrip(std::move(req), v1::GuestToHost::kAck, deadline).status();
}

absl::StatusOr<v1::PutFileDone> AgentClient::PutFile(const std::string& host_path,
                                                     const std::string& guest_path, uint32_t mode,
                                                     absl::Time deadline) {
  std::ifstream in(host_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", host_path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (mode == 0) {
    struct stat st;
    mode = ::stat(host_path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  }
  return PutBytes(ss.str(), guest_path, mode, deadline);
}

absl::StatusOr<v1::PutFileDone> AgentClient::PutBytes(absl::string_view data,
                                                      const std::string& guest_path, uint32_t mode,
                                                      absl::Time deadline) {
  const uint64_t id = NextId();
  auto call = Register(id);
  const uint32_t crc = Crc32c(data);
  uint64_t offset = 0;
  absl::Status sent = absl::OkStatus();
  do {
    const size_t n = std::min<size_t>(config::kMaxPutChunkBytes, data.size() - offset);
    v1::HostToGuest req;
    req.set_request_id(id);
    v1::PutFile* p = req.mutable_put_file();
    p->set_path(guest_path);
    p->set_mode(mode);
    p->set_offset(offset);
    p->set_data(std::string(data.substr(offset, n)));
    offset += n;
    p->set_last(offset == data.size());
    if (p->last()) {
      p->set_total_size(data.size());
      p->set_crc32c(crc);
    }
    sent = Send(req, deadline);
    if (!sent.ok()) break;
    // An early Error (cannot create the file) ends the transfer at once.
    absl::MutexLock cl(&call->mu);
    if (!call->inbox.empty()) break;
  } while (offset < data.size());
  absl::StatusOr<v1::GuestToHost> reply =
      sent.ok() ? Receive(call.get(), deadline) : absl::StatusOr<v1::GuestToHost>(sent);
  Unregister(id);
  if (!reply.ok()) return reply.status();
  if (reply->has_error()) return StatusFromGuestError(reply->error());
  if (!reply->has_put_file_done()) return absl::InternalError("unexpected reply to put_file");
  return reply->put_file_done();
}

absl::StatusOr<v1::ExecExit> AgentClient::Exec(const v1::Exec& exec, const OutputFn& on_output,
                                               absl::Time deadline,
                                               const std::function<void(uint64_t)>& on_started) {
  v1::HostToGuest req;
  *req.mutable_exec() = exec;
  auto r = Streamed(std::move(req), v1::GuestToHost::kExecExit, on_output, deadline, on_started);
  if (!r.ok()) return r.status();
  return r->exec_exit();
}

absl::StatusOr<v1::TestResult> AgentClient::RunTest(const v1::RunTest& run, const OutputFn& on_output,
                                                    absl::Time deadline) {
  v1::HostToGuest req;
  *req.mutable_run_test() = run;
  auto r = Streamed(std::move(req), v1::GuestToHost::kTestResult, on_output, deadline);
  if (!r.ok()) return r.status();
  return r->test_result();
}

absl::Status AgentClient::SendStdin(uint64_t exec_request_id, absl::string_view data, bool eof,
                                    absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_stdin()->set_target_request_id(exec_request_id);
  req.mutable_stdin()->set_data(std::string(data));
  req.mutable_stdin()->set_eof(eof);
  return Roundtrip(std::move(req), v1::GuestToHost::kAck, deadline).status();
}

absl::Status AgentClient::ResizePty(uint64_t exec_request_id, uint32_t rows, uint32_t cols,
                                   absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_pty_resize()->set_target_request_id(exec_request_id);
  req.mutable_pty_resize()->set_rows(rows);
  req.mutable_pty_resize()->set_cols(cols);
  return Roundtrip(std::move(req), v1::GuestToHost::kAck, deadline).status();
}

absl::Status AgentClient::Cancel(uint64_t target_request_id, absl::Time deadline) {
  v1::HostToGuest req;
  req.mutable_cancel()->set_target_request_id(target_request_id);
  return Roundtrip(std::move(req), v1::GuestToHost::kAck, deadline).status();
}

}  // namespace ktstr::agent
