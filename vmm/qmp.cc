#include "vmm/qmp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ktstr::vmm {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::StatusOr<Struct> ParseObject(absl::string_view json) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &s);
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat("QMP: malformed JSON: ", json));
  }
  return s;
}

std::string ValueToJson(const Value& v) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

int MillisUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

absl::StatusOr<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                              absl::Time deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("QMP socket path too long: ", socket_path));
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  while (true) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return FromFd(fd, deadline);
    }
    const int err = errno;
    close(fd);
    if (err != ENOENT && err != ECONNREFUSED) {
      return absl::UnavailableError(absl::StrCat("QMP connect ", socket_path, ": ", strerror(err)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("QMP socket ", socket_path, " did not come up: ", strerror(err)));
    }
    // QEMU creates the socket within ~100 ms of starting; poll at a fine grain.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<std::unique_ptr<QmpClient>> QmpClient::FromFd(int fd, absl::Time deadline) {
  std::unique_ptr<QmpClient> client(new QmpClient(fd));
  if (absl::Status s = client->Negotiate(deadline); !s.ok()) return s;
  return client;
}

QmpClient::~QmpClient() { close(fd_); }

absl::Status QmpClient::Negotiate(absl::Time deadline) {
  absl::StatusOr<std::string> greeting = ReadLine(deadline);
  if (!greeting.ok()) return greeting.status();
  absl::StatusOr<Struct> g = ParseObject(*greeting);
  if (!g.ok()) return g.status();
  if (!g->fields().contains("QMP")) {
    return absl::DataLossError(absl::StrCat("QMP: expected greeting, got ", *greeting));
  }
  return Execute("qmp_capabilities").status();
}

absl::StatusOr<std::string> QmpClient::ReadLine(absl::Time deadline) {
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      return line;
    }
    pollfd p{.fd = fd_, .events = POLLIN};
    int r = poll(&p, 1, MillisUntil(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::InternalError(absl::StrCat("QMP poll: ", strerror(errno)));
    if (r == 0) return absl::DeadlineExceededError("QMP: no answer before the deadline");
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("QMP read: ", strerror(errno)));
    if (n == 0) return absl::UnavailableError("QMP: connection closed by QEMU");
    buffer_.append(buf, n);
  }
}

absl::Status QmpClient::WriteAll(absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      return absl::UnavailableError(absl::StrCat("QMP write: ", strerror(errno)));
    }
    pollfd p{.fd = fd_, .events = POLLOUT};
    if (poll(&p, 1, MillisUntil(deadline)) == 0) {
      return absl::DeadlineExceededError("QMP: write timed out");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> QmpClient::Execute(absl::string_view command,
                                               absl::string_view arguments_json) {
  const absl::Time deadline = absl::Now() + timeout_;
  const int id = next_id_++;
  std::string request = absl::StrCat("{\"execute\":", JsonQuote(command));
  if (!arguments_json.empty()) absl::StrAppend(&request, ",\"arguments\":", arguments_json);
  absl::StrAppend(&request, ",\"id\":", id, "}\n");
  if (absl::Status s = WriteAll(request, deadline); !s.ok()) return s;
  while (true) {
    absl::StatusOr<std::string> line = ReadLine(deadline);
    if (!line.ok()) {
      return absl::Status(line.status().code(),
                          absl::StrCat("QMP ", command, ": ", line.status().message()));
    }
    absl::StatusOr<Struct> msg = ParseObject(*line);
    if (!msg.ok()) return msg.status();
    const auto& f = msg->fields();
    if (f.contains("event")) continue;  // asynchronous; not ours
    auto id_it = f.find("id");
    if (id_it == f.end() || id_it->second.number_value() != id) continue;
    if (auto err = f.find("error"); err != f.end()) {
      const auto& ef = err->second.struct_value().fields();
      std::string cls = ef.contains("class") ? ef.at("class").string_value() : "";
      std::string desc = ef.contains("desc") ? ef.at("desc").string_value() : "";
      return absl::FailedPreconditionError(
          absl::StrCat("QMP ", command, " failed: ", cls, ": ", desc));
    }
    if (auto ret = f.find("return"); ret != f.end()) return ValueToJson(ret->second);
    return absl::DataLossError(absl::StrCat("QMP ", command, ": unexpected reply ", *line));
  }
}

absl::StatusOr<std::string> QmpClient::QueryStatus() {
  absl::StatusOr<std::string> r = Execute("query-status");
  if (!r.ok()) return r.status();
  absl::StatusOr<Struct> s = ParseObject(*r);
  if (!s.ok()) return s.status();
  auto it = s->fields().find("status");
  if (it == s->fields().end()) return absl::DataLossError("query-status: no status field");
  return it->second.string_value();
}

absl::Status QmpClient::Stop() { return Execute("stop").status(); }
absl::Status QmpClient::Cont() { return Execute("cont").status(); }

absl::Status QmpClient::Quit() {
  absl::StatusOr<std::string> r = Execute("quit");
  // QEMU may close the socket before or right after the answer.
  if (!r.ok() && !absl::IsUnavailable(r.status())) return r.status();
  return absl::OkStatus();
}

absl::Status QmpClient::SetMigrationCapability(absl::string_view capability, bool state) {
  return Execute("migrate-set-capabilities",
                 absl::StrCat("{\"capabilities\":[{\"capability\":", JsonQuote(capability),
                              ",\"state\":", state ? "true" : "false", "}]}"))
      .status();
}

absl::Status QmpClient::Migrate(absl::string_view uri) {
  return Execute("migrate", absl::StrCat("{\"uri\":", JsonQuote(uri), "}")).status();
}

absl::Status QmpClient::MigrateIncoming(absl::string_view uri) {
  return Execute("migrate-incoming", absl::StrCat("{\"uri\":", JsonQuote(uri), "}")).status();
}

absl::StatusOr<std::string> QmpClient::QueryMigrateStatus() {
  absl::StatusOr<std::string> r = Execute("query-migrate");
  if (!r.ok()) return r.status();
  absl::StatusOr<Struct> s = ParseObject(*r);
  if (!s.ok()) return s.status();
  auto it = s->fields().find("status");
  if (it == s->fields().end()) return std::string("none");
  return it->second.string_value();
}

absl::StatusOr<std::vector<int>> QmpClient::VcpuThreadIds() {
  absl::StatusOr<std::string> r = Execute("query-cpus-fast");
  if (!r.ok()) return r.status();
  Value v;
  if (!google::protobuf::util::JsonStringToMessage(*r, &v).ok() || !v.has_list_value()) {
    return absl::DataLossError(absl::StrCat("query-cpus-fast: not a list: ", *r));
  }
  std::vector<int> tids(v.list_value().values_size(), 0);
  for (const Value& cpu : v.list_value().values()) {
    const auto& f = cpu.struct_value().fields();
    if (!f.contains("cpu-index") || !f.contains("thread-id")) {
      return absl::DataLossError("query-cpus-fast: entry without cpu-index/thread-id");
    }
    const int index = static_cast<int>(f.at("cpu-index").number_value());
    if (index < 0 || index >= static_cast<int>(tids.size())) {
      return absl::DataLossError("query-cpus-fast: cpu-index out of range");
    }
    tids[index] = static_cast<int>(f.at("thread-id").number_value());
  }
  return tids;
}

}  // namespace ktstr::vmm
