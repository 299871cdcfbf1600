#include "client/connection.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "daemon/state_paths.h"

namespace ktstr::client {
namespace {

bool IsExecutable(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string self(buf, n);
  return self.substr(0, self.rfind('/'));
}

// ktstrd next to this binary, in Bazel's layout (bazel-bin/daemon/ktstrd beside
// bazel-bin/client/ktstr-client), or on PATH.
std::string FindKtstrd() {
  std::string dir = SelfDir();
  for (const std::string& p : {dir + "/ktstrd", dir + "/../daemon/ktstrd"}) {
    if (IsExecutable(p)) return p;
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view d : absl::StrSplit(path ? path : "", ':')) {
    std::string p = absl::StrCat(d, "/ktstrd");
    if (!d.empty() && IsExecutable(p)) return p;
  }
  return "";
}

absl::Status StartDaemon(const std::string& socket_path) {
  std::string ktstrd = FindKtstrd();
  if (ktstrd.empty()) {
    return absl::UnavailableError(
        "no ktstrd answers and none was found next to ktstr-client or on PATH; build it "
        "(bazel build //daemon:ktstrd) or start one yourself");
  }
  std::string log_dir = daemon::StatePaths::ForUser().state_dir;
  mkdir(log_dir.substr(0, log_dir.rfind('/')).c_str(), 0700);
  mkdir(log_dir.c_str(), 0700);
  std::string log = log_dir + "/ktstrd.log";
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setsid();  // survives the client's terminal
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::string sock = "--socket=" + socket_path;
    execl(ktstrd.c_str(), ktstrd.c_str(), sock.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  fprintf(stderr, "[ktstr-client] started ktstrd (pid %d, log %s)\n", pid, log.c_str());
  return absl::OkStatus();
}

}  // namespace

bool HealthCheck(grpc::Channel* channel, absl::Duration deadline) {
  grpc::GenericStub stub(channel->shared_from_this());
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  ctx.set_wait_for_ready(false);
  grpc::ByteBuffer request, response;  // HealthCheckRequest{service: ""} is empty
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes == std::string("\x08\x01", 2);  // HealthCheckResponse{status: SERVING}
}

absl::StatusOr<Connection> Connect(const ConnectOptions& options) {
  Connection c;
  c.socket_path = options.socket_path.empty() ? daemon::DefaultUserSocketPath()
                                              : options.socket_path;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  c.channel = grpc::CreateCustomChannel("unix:" + c.socket_path,
                                        grpc::InsecureChannelCredentials(), args);
  if (!HealthCheck(c.channel.get(), absl::Seconds(3))) {
    if (!options.autostart) {
      return absl::UnavailableError(absl::StrCat(
          "no ktstrd answers on ", c.socket_path,
          "; start one (ktstrd &) or drop --no-autostart to let ktstr-client start it"));
    }
    if (absl::Status s = StartDaemon(c.socket_path); !s.ok()) return s;
    absl::Time until = absl::Now() + config::kAutostartWait;
    bool up = false;
    while (!up && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(100));
      c.channel = grpc::CreateCustomChannel("unix:" + c.socket_path,
                                            grpc::InsecureChannelCredentials(), args);
      up = HealthCheck(c.channel.get(), absl::Seconds(1));
    }
    if (!up) {
      return absl::UnavailableError(absl::StrCat(
          "started ktstrd but it did not answer on ", c.socket_path, " within ",
          absl::FormatDuration(config::kAutostartWait), "; see ",
          daemon::StatePaths::ForUser().state_dir, "/ktstrd.log"));
    }
  }
  c.stub = ktstr::v1::Ktstrd::NewStub(c.channel);
  return c;
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace ktstr::client
