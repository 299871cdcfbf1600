#include "guest_agent/agent_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ktstr::agent {
namespace {

int RemainingMs(absl::Time deadline, absl::Duration cap = absl::Seconds(1)) {
  absl::Duration left = std::min(deadline - absl::Now(), cap);
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

absl::StatusOr<int> ConnectUnix(const std::string& path, absl::Time deadline) {
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path)
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", path));
  std::memcpy(sa.sun_path, path.data(), path.size());
  while (true) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) == 0) return fd;
    int e = errno;
    ::close(fd);
    if ((e != ENOENT && e != ECONNREFUSED) || absl::Now() >= deadline)
      return absl::UnavailableError(absl::StrCat("connect ", path, ": ", std::strerror(e)));
    absl::SleepFor(config::kConnectRetry);  // QEMU has not created the socket yet
  }
}

}  // namespace

absl::Status StatusFromGuestError(const v1::Error& error) {
  std::string msg = absl::StrCat("guest: ", v1::ErrorCode_Name(error.code()), ": ", error.message());
  switch (error.code()) {
    case v1::ERROR_CODE_BAD_FRAME:
    case v1::ERROR_CODE_BAD_MESSAGE:
      return absl::InvalidArgumentError(msg);
    case v1::ERROR_CODE_UNKNOWN_REQUEST:
      return absl::NotFoundError(msg);
    case v1::ERROR_CODE_CHECKSUM:
      return absl::DataLossError(msg);
    case v1::ERROR_CODE_BUSY:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

AgentClient::AgentClient(int fd) : fd_(fd) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  reader_ = std::thread([this] { ReaderLoop(); });
}

AgentClient::~AgentClient() {
  stop_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  ::close(fd_);
}

absl::StatusOr<std::unique_ptr<AgentClient>> AgentClient::Connect(const std::string& socket_path,
                                                                  absl::Time deadline) {
  auto fd = ConnectUnix(socket_path, deadline);
  if (!fd.ok()) return fd.status();
  return FromFd(*fd, deadline);
}

absl::StatusOr<std::unique_ptr<AgentClient>> AgentClient::FromFd(int fd, absl::Time deadline) {
  std::unique_ptr<AgentClient> c(new AgentClient(fd));
  if (absl::Status s = c->Handshake(deadline); !s.ok()) return s;
  return c;
}

absl::Status AgentClient::Handshake(absl::Time deadline) {
  // One Call collects the Pongs of every Ping sent; the first one that answers wins.
  auto call = std::make_shared<Call>();
  std::vector<uint64_t> ids;
  absl::Status result = absl::DeadlineExceededError("the agent did not answer a ping");
  while (absl::Now() < deadline && !closed_) {
    uint64_t id = NextId();
    {
      absl::MutexLock lock(&mu_);
      calls_[id] = call;
    }
    ids.push_back(id);
    v1::HostToGuest ping;
    ping.set_request_id(id);
    ping.mutable_ping()->set_seq(id);
    if (absl::Status s = Send(ping, std::min(deadline, absl::Now() + config::kConnectPingInterval));
        !s.ok() && !absl::IsDeadlineExceeded(s)) {
      result = s;
      break;
    }
    auto reply = Receive(call.get(), std::min(deadline, absl::Now() + config::kConnectPingInterval));
    if (reply.ok()) {
      result = reply->has_pong() ? absl::OkStatus()
                                 : absl::InternalError("unexpected first reply from the agent");
      break;
    }
    if (!absl::IsDeadlineExceeded(reply.status())) {
      result = reply.status();
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  for (uint64_t id : ids) calls_.erase(id);
  // Pongs to the other pings may still arrive; they find no call and are dropped.
  return result;
}

void AgentClient::ReaderLoop() {
  FrameDecoder decoder;
  std::string buf(64 << 10, '\0');
  while (!stop_) {
    struct pollfd p = {fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r <= 0) continue;
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    decoder.Feed(absl::string_view(buf.data(), static_cast<size_t>(n)));
    while (true) {
      auto item = decoder.Next();
      if (std::holds_alternative<std::monostate>(item)) break;
      if (auto* err = std::get_if<FrameError>(&item)) {
        spdlog::warn("agent channel: {}", err->Describe());
        continue;
      }
      v1::GuestToHost msg;
      if (!msg.ParseFromString(std::get<std::string>(item))) {
        spdlog::warn("agent channel: unparsable GuestToHost dropped");
        continue;
      }
      Deliver(std::move(msg));
    }
  }
  closed_ = true;
  absl::MutexLock lock(&mu_);
  for (auto& [id, call] : calls_) {
    absl::MutexLock cl(&call->mu);
    call->closed = true;
  }
}

void AgentClient::Deliver(v1::GuestToHost msg) {
  KernelLogFn log_fn;
  std::shared_ptr<Call> call;
  {
    absl::MutexLock lock(&mu_);
    if (msg.has_kernel_log()) {
      log_fn = kernel_log_;
    } else if (msg.request_id() == 0 && msg.has_error()) {
      unsolicited_.push_back(msg.error());
      return;
    } else {
      auto it = calls_.find(msg.request_id());
      if (it == calls_.end()) return;  // a late reply to an abandoned call
      call = it->second;
    }
  }
  if (log_fn) {
    log_fn(msg.kernel_log());
    return;
  }
  if (call) {
    const size_t bytes = msg.ByteSizeLong();
    absl::MutexLock cl(&call->mu);
    auto room = [this, &call]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return call->inbox_bytes < config::kMaxCallInboxBytes || call->abandoned || stop_;
    };
    // Backpressure: while the call is behind, read nothing more from the channel. stop_ is
    // not a mutex-guarded condition, hence the timed wait.
    while (!call->mu.AwaitWithTimeout(absl::Condition(&room), absl::Milliseconds(200))) {
    }
    if (call->abandoned || stop_) return;
    call->inbox_bytes += bytes;
    call->inbox.push_back(std::move(msg));
  }
}

size_t AgentClient::buffered_bytes() {
  absl::MutexLock lock(&mu_);
  size_t total = 0;
  for (auto& [id, call] : calls_) {
    absl::MutexLock cl(&call->mu);
    total += call->inbox_bytes;
  }
  return total;
}

std::shared_ptr<AgentClient::Call> AgentClient::Register(uint64_t id) {
  auto call = std::make_shared<Call>();
  absl::MutexLock lock(&mu_);
  calls_[id] = call;
  if (closed_) {
    absl::MutexLock cl(&call->mu);
    call->closed = true;
  }
  return call;
}

void AgentClient::Unregister(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  {
    // A reader waiting for room in this call's inbox drops its message and reads on.
    absl::MutexLock cl(&it->second->mu);
    it->second->abandoned = true;
  }
  calls_.erase(it);
}

absl::Status AgentClient::Send(const v1::HostToGuest& msg, absl::Time deadline) {
  return SendRaw(EncodeMessage(msg), deadline);
}

absl::Status AgentClient::SendRaw(absl::string_view bytes, absl::Time deadline) {
  absl::MutexLock lock(&send_mu_);
  size_t done = 0;
  while (done < bytes.size()) {
    if (closed_) return absl::UnavailableError("agent channel closed");
    ssize_t w = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    if (absl::Now() >= deadline) {
      // A partial frame would desynchronise the stream; the guest resyncs on the next magic.
      return absl::DeadlineExceededError(
          absl::StrCat("channel write blocked (", done, " of ", bytes.size(), " bytes sent)"));
    }
    struct pollfd p = {fd_, POLLOUT, 0};
    ::poll(&p, 1, RemainingMs(deadline, absl::Milliseconds(200)));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::GuestToHost> AgentClient::Receive(Call* call, absl::Time deadline) {
  absl::MutexLock cl(&call->mu);
  auto ready = [call]() ABSL_SHARED_LOCKS_REQUIRED(call->mu) {
    return !call->inbox.empty() || call->closed;
  };
  call->mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (!call->inbox.empty()) {
    v1::GuestToHost msg = std::move(call->inbox.front());
    call->inbox.pop_front();
    call->inbox_bytes -= std::min(call->inbox_bytes, msg.ByteSizeLong());
    return msg;
  }
  if (call->closed) return absl::UnavailableError("agent channel closed");
  return absl::DeadlineExceededError("no reply from the agent before the deadline");
}

absl::StatusOr<v1::GuestToHost> AgentClient::Roundtrip(v1::HostToGuest req,
                                                       v1::GuestToHost::MsgCase want,
                                                       absl::Time deadline) {
  const uint64_t id = NextId();
  req.set_request_id(id);
  auto call = Register(id);
  absl::Status sent = Send(req, deadline);
  absl::StatusOr<v1::GuestToHost> reply =
      sent.ok() ? Receive(call.get(), deadline) : absl::StatusOr<v1::GuestToHost>(sent);
  Unregister(id);
  if (!reply.ok()) return reply.status();
  if (reply->has_error()) return StatusFromGuestError(reply->error());
  if (reply->msg_case() != want)
    return absl::InternalError(absl::StrCat("unexpected reply kind ", reply->msg_case()));
  return reply;
}

absl::StatusOr<v1::GuestToHost> AgentClient::Streamed(v1::HostToGuest req,
                                                      v1::GuestToHost::MsgCase want,
                                                      const OutputFn& on_output,
                                                      absl::Time deadline,
                                                      const std::function<void(uint64_t)>& on_started) {
  const uint64_t id = NextId();
  req.set_request_id(id);
  auto call = Register(id);
  absl::Status sent = Send(req, deadline);
  if (sent.ok() && on_started) on_started(id);
  absl::StatusOr<v1::GuestToHost> reply =
      sent.ok() ? absl::StatusOr<v1::GuestToHost>(absl::UnknownError("no reply"))
                : absl::StatusOr<v1::GuestToHost>(sent);
  while (sent.ok()) {
    reply = Receive(call.get(), deadline);
    if (!reply.ok()) break;
    if (reply->has_output()) {
      if (on_output) on_output(reply->output().stream(), reply->output().data());
      continue;
    }
    break;
  }
  Unregister(id);
  if (!reply.ok()) {
    if (absl::IsDeadlineExceeded(reply.status()) && sent.ok()) {
      // Do not leave the guest process running past the caller's deadline.
      v1::HostToGuest cancel;
      cancel.set_request_id(NextId());
      cancel.mutable_cancel()->set_target_request_id(id);
      (void)Send(cancel, absl::Now() + absl::Seconds(1));
    }
    return reply.status();
  }
  if (reply->has_error()) return StatusFromGuestError(reply->error());
  if (reply->msg_case() != want)
    return absl::InternalError(absl::StrCat("unexpected reply kind ", reply->msg_case()));
  return reply;
}

void AgentClient::set_kernel_log_callback(KernelLogFn fn) {
  absl::MutexLock lock(&mu_);
  kernel_log_ = std::move(fn);
}

std::vector<v1::Error> AgentClient::TakeUnsolicitedErrors() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Error> out;
  out.swap(unsolicited_);
  return out;
}

}  // namespace ktstr::agent
