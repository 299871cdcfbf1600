// AgentClient against a scripted guest on a socketpair: the test thread plays the agent,
// frame by frame, where the real agent (agent_host_test) cannot be made to misbehave on cue.
#include "guest_agent/agent_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "guest_agent/wire.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

// The guest end of the channel: reads host requests, writes replies.
class ScriptedGuest {
 public:
  explicit ScriptedGuest(int fd) : fd_(fd) {}
  ~ScriptedGuest() { close(fd_); }

  // The next host request (blocking).
  v1::HostToGuest Read() {
    while (true) {
      auto item = decoder_.Next();
      if (auto* payload = std::get_if<std::string>(&item)) {
        v1::HostToGuest m;
        EXPECT_TRUE(m.ParseFromString(*payload));
        return m;
      }
      char buf[4096];
      struct pollfd p = {fd_, POLLIN, 0};
      poll(&p, 1, 10000);
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return {};
      decoder_.Feed(absl::string_view(buf, static_cast<size_t>(n)));
    }
  }

  // Queues `bytes` and writes what is queued unless the channel stays full for `stall`;
  // false when it stalled (the rest stays queued for the next call, frames stay whole).
  bool Write(const std::string& bytes, absl::Duration stall) {
    pending_ += bytes;
    while (!pending_.empty()) {
      ssize_t w = send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
      if (w > 0) {
        pending_.erase(0, static_cast<size_t>(w));
        continue;
      }
      struct pollfd p = {fd_, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(stall))) == 0) return false;
    }
    return true;
  }

  void AnswerPing() {
    v1::HostToGuest ping = Read();
    ASSERT_TRUE(ping.has_ping());
    v1::GuestToHost pong;
    pong.set_request_id(ping.request_id());
    pong.mutable_pong()->set_seq(ping.ping().seq());
    ASSERT_TRUE(Write(EncodeMessage(pong), absl::Seconds(10)));
  }

 private:
  const int fd_;
  FrameDecoder decoder_;
  std::string pending_;
};

// Chunk i is `bytes` copies of one letter, 'a' + i % 26, so order is checkable.
std::string OutputFrame(uint64_t id, size_t i, size_t bytes) {
  v1::GuestToHost m;
  m.set_request_id(id);
  m.mutable_output()->set_stream(v1::Output::STREAM_STDOUT);
  m.mutable_output()->set_data(std::string(bytes, static_cast<char>('a' + i % 26)));
  return EncodeMessage(m);
}

// A guest printing faster than the Exec caller consumes (a shell whose gRPC client stopped
// reading): the client stops reading the channel near kMaxCallInboxBytes, so the guest's
// writes block instead of the host's memory growing; once the caller reads again
// everything arrives, in order.
TEST(AgentClientTest, AGuestOutpacingItsCallerIsHeldBackNotBuffered) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  ScriptedGuest guest(sv[1]);
  std::thread handshake([&] { guest.AnswerPing(); });
  absl::StatusOr<std::unique_ptr<AgentClient>> client =
      AgentClient::FromFd(sv[0], absl::Now() + absl::Seconds(10));
  handshake.join();
  ASSERT_TRUE(client.ok()) << client.status();

  constexpr size_t kChunk = 64 << 10;
  constexpr size_t kTotal = 64u << 20;  // 16 x the inbox bound
  absl::Notification consumer_may_read;
  size_t received = 0, chunks = 0;
  bool in_order = true;
  std::thread caller([&] {
    v1::Exec exec;
    exec.add_argv("yes");
    absl::StatusOr<v1::ExecExit> exit = (*client)->Exec(
        exec,
        [&](v1::Output::Stream, absl::string_view data) {
          consumer_may_read.WaitForNotification();  // stuck, like a slow gRPC reader
          const char want = static_cast<char>('a' + chunks++ % 26);
          in_order = in_order && data.find_first_not_of(want) == absl::string_view::npos;
          received += data.size();
        },
        absl::Now() + absl::Seconds(120));
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (exit.ok()) EXPECT_EQ(exit->exit_code(), 0);
  });
  v1::HostToGuest exec = guest.Read();
  ASSERT_TRUE(exec.has_exec());

  // Write until the channel stays full for 2 s: without backpressure the client's reader
  // would drain it all into memory.
  size_t written = 0;
  bool stalled = false;
  while (written < kTotal && !stalled) {
    stalled = !guest.Write(OutputFrame(exec.request_id(), written / kChunk, kChunk),
                           absl::Seconds(2));
    written += kChunk;  // queued whole, if not yet all sent
  }
  EXPECT_TRUE(stalled);
  EXPECT_LT(written, kTotal) << "the client kept reading while its caller was stuck";
  // Held back at the inbox bound (plus a message and the socket buffers).
  EXPECT_LE((*client)->buffered_bytes(), config::kMaxCallInboxBytes + kChunk + 64);
  EXPECT_LT(written, config::kMaxCallInboxBytes + (8u << 20)) << written;

  consumer_may_read.Notify();
  ASSERT_TRUE(guest.Write("", absl::Seconds(30)));  // the stalled frame's rest
  while (written < kTotal) {
    ASSERT_TRUE(guest.Write(OutputFrame(exec.request_id(), written / kChunk, kChunk),
                            absl::Seconds(30)));
    written += kChunk;
  }
  v1::GuestToHost done;
  done.set_request_id(exec.request_id());
  done.mutable_exec_exit()->set_exit_code(0);
  ASSERT_TRUE(guest.Write(EncodeMessage(done), absl::Seconds(30)));
  caller.join();
  EXPECT_EQ(received, kTotal);
  EXPECT_TRUE(in_order);
  EXPECT_EQ((*client)->buffered_bytes(), 0u);
}

}  // namespace
}  // namespace ktstr::agent
