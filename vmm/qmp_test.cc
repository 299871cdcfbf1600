// QMP framing against a fake QMP server on a socketpair (a real QEMU is exercised by
// vm_topology_test; this covers the protocol corners QEMU rarely shows: events between
// replies, fragmented writes, errors, stale ids, a closed connection, silence).
#include "vmm/qmp.h"

#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

// Reads one request line; returns {command, id}.
std::pair<std::string, std::string> ReadRequest(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  auto field = [&](const std::string& key, char end) {
    size_t at = line.find(key);
    if (at == std::string::npos) return std::string();
    at += key.size();
    return line.substr(at, line.find(end, at) - at);
  };
  return {field("\"execute\":\"", '"'), field("\"id\":", '}')};
}

void Send(int fd, const std::string& s, bool fragment = false) {
  if (!fragment) {
    (void)!write(fd, s.data(), s.size());
    return;
  }
  for (char c : s) (void)!write(fd, &c, 1);
}

// A fake server: greeting, then `handler(command, id)` for each request until it returns
// false.
class FakeQmp {
 public:
  explicit FakeQmp(std::function<bool(int, const std::string&, const std::string&)> handler) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_fd_ = fds[0];
    server_ = std::thread([fd = fds[1], handler] {
      Send(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n");
      while (true) {
        auto [cmd, id] = ReadRequest(fd);
        if (cmd.empty()) break;
        if (cmd == "qmp_capabilities") {
          Send(fd, absl::StrCat("{\"return\": {}, \"id\": ", id, "}\r\n"));
          continue;
        }
        if (!handler(fd, cmd, id)) break;
      }
      close(fd);
    });
  }
  ~FakeQmp() { server_.join(); }
  int client_fd() const { return client_fd_; }

 private:
  int client_fd_;
  std::thread server_;
};

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

TEST(QmpTest, SkipsEventsAndStaleIdsAndReassemblesFragments) {
  FakeQmp server([](int fd, const std::string& cmd, const std::string& id) {
    EXPECT_EQ(cmd, "query-status");
    Send(fd, "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1}}\r\n");
    Send(fd, "{\"return\": {\"status\": \"stale\"}, \"id\": 999}\r\n");
    Send(fd,
         absl::StrCat("{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": ", id,
                      "}\r\n"),
         /*fragment=*/true);
    return true;
  });
  absl::StatusOr<std::unique_ptr<QmpClient>> qmp = QmpClient::FromFd(server.client_fd(), Soon());
  ASSERT_TRUE(qmp.ok()) << qmp.status();
  absl::StatusOr<std::string> status = (*qmp)->QueryStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, "running");
  qmp->reset();  // closes the client side; the server sees EOF
}

TEST(QmpTest, ErrorsCarryClassAndDescription) {
  FakeQmp server([](int fd, const std::string&, const std::string& id) {
    Send(fd, absl::StrCat("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such "
                          "capability\"}, \"id\": ",
                          id, "}\r\n"));
    return true;
  });
  auto qmp = QmpClient::FromFd(server.client_fd(), Soon());
  ASSERT_TRUE(qmp.ok());
  absl::Status s = (*qmp)->SetMigrationCapability("x-bogus", true);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("GenericError: no such capability"), absl::string_view::npos) << s;
  qmp->reset();
}

TEST(QmpTest, VcpuThreadIdsByCpuIndex) {
  FakeQmp server([](int fd, const std::string& cmd, const std::string& id) {
    EXPECT_EQ(cmd, "query-cpus-fast");
    Send(fd, absl::StrCat(
                 "{\"return\": [{\"cpu-index\": 1, \"thread-id\": 4242, \"target\": \"x86_64\"},"
                 " {\"cpu-index\": 0, \"thread-id\": 4241}], \"id\": ",
                 id, "}\r\n"));
    return true;
  });
  auto qmp = QmpClient::FromFd(server.client_fd(), Soon());
  ASSERT_TRUE(qmp.ok());
  absl::StatusOr<std::vector<int>> tids = (*qmp)->VcpuThreadIds();
  ASSERT_TRUE(tids.ok()) << tids.status();
  EXPECT_EQ(*tids, (std::vector<int>{4241, 4242}));
  qmp->reset();
}

TEST(QmpTest, ClosedConnectionIsUnavailableAndQuitToleratesIt) {
  FakeQmp server([](int, const std::string&, const std::string&) { return false; });
  auto qmp = QmpClient::FromFd(server.client_fd(), Soon());
  ASSERT_TRUE(qmp.ok());
  EXPECT_TRUE((*qmp)->Quit().ok());  // QEMU closes the socket when it quits
  EXPECT_TRUE(absl::IsUnavailable((*qmp)->Stop()));
}

TEST(QmpTest, SilenceTimesOut) {
  FakeQmp server([](int fd, const std::string&, const std::string&) {
    char c;
    (void)!read(fd, &c, 1);  // never answers; returns when the client closes
    return false;
  });
  auto qmp = QmpClient::FromFd(server.client_fd(), Soon());
  ASSERT_TRUE(qmp.ok());
  (*qmp)->set_timeout(absl::Milliseconds(200));
  EXPECT_TRUE(absl::IsDeadlineExceeded((*qmp)->Cont()));
  qmp->reset();
}

TEST(QmpTest, GreetingIsRequired) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Send(fds[1], "{\"return\": {}}\r\n");
  EXPECT_FALSE(QmpClient::FromFd(fds[0], Soon()).ok());
  close(fds[1]);
}

TEST(QmpTest, ConnectToMissingSocketTimesOut) {
  absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
      QmpClient::Connect("/tmp/ktstr_qmp_test_missing.sock", absl::Now() + absl::Milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(qmp.status())) << qmp.status();
}

TEST(QmpTest, JsonQuote) {
  EXPECT_EQ(JsonQuote("exec:cat > /a \"b\"\n"), "\"exec:cat > /a \\\"b\\\"\\n\"");
}

}  // namespace
}  // namespace ktstr::vmm
