// `ktstr-client shell [--topology T] [--kernel K] [--kernel-arg ARG]... [--file HOST[:GUEST]]...
// [--timeout S] [--memory MB] [-- COMMAND ARGS...]`: uploads the files (and the shared libraries of
// executables), opens ktstrd's Shell stream, relays the terminal both ways and exits with
// the remote command's exit code.
#include "client/shell_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/exit_codes.h"
#include "client/terminal.h"
#include "client/topology_arg.h"
#include "client/upload.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::client {

const char kShellUsage[] =
    "[--topology N,L,C,T] [--kernel K] [--kernel-arg ARG]... [--file HOST[:GUEST]]..."
    " [--timeout S] [--memory MB] [-- COMMAND ARGS...]\n      a shell (busybox sh) or one command in a fresh VM; exits with"
    " its exit code";

const char kShellHelp[] = R"(usage: ktstr-client shell [OPTIONS] [-- COMMAND ARGS...]

Boots a VM of the given topology on a guest kernel through ktstrd and runs an interactive
busybox sh in it on a terminal, or COMMAND with its arguments. The VM is destroyed when the
shell exits, when ktstr-client goes away (^C while booting) or after --timeout.

  --topology T      N,L,C,T (NUMA nodes, LLCs, cores per LLC, threads per core), 1n2l4c1t
                    or a preset name such as tiny-2llc (default 1,1,2,1: 2 vCPUs)
  --kernel K        a cached kernel: a version (7.3.4, or a prefix) or a cache key;
                    default the daemon's (`ktstr-client kernel list`)
  --kernel-arg ARG  append ARG to the guest kernel command line (one word, e.g.
                    sched_verbose or nosmt; not init=/rdinit=). Repeatable, at most 16.
  --file HOST[:GUEST]
                    place a host file in the guest, at GUEST or else at HOST's absolute
                    path, with HOST's permission bits; an executable's shared libraries go
                    along at their host paths. Repeatable.
  --timeout S       the VM's hard lifetime in seconds (default 3600)
  --memory MB       guest memory (default: 64 MiB per vCPU, at least vmm's minimum)

The guest holds ktstr's agent, busybox and its applets (/bin/sh, cat, ls, ps, ...) and
your --file files, nothing else. When stdin is a terminal it is put in raw mode once the
shell starts (every key, ^C included, goes to the guest; exit the shell to leave) and
window-size changes follow. Piped stdin works too; its end is typed as ^D:
  echo 'nproc; cat /sys/devices/system/cpu/online; exit 3' | ktstr-client shell --topology 1,2,2,1

Exit code: the shell's or COMMAND's (128+N when killed by signal N); 2 for bad usage, 3
when ktstr-client or ktstrd failed (no daemon, unknown kernel, boot failure, timeout).
)";

namespace {

using ktstr::v1::ShellInput;
using ktstr::v1::ShellOutput;
using ShellStream = grpc::ClientReaderWriter<ShellInput, ShellOutput>;

struct ShellOptions {
  ktstr::v1::ShellStart start;
  std::vector<std::pair<std::string, std::string>> files;  // host, guest
  bool help = false;
};

absl::Status ParseFileArg(const std::string& v, ShellOptions* o) {
  std::string host = v, guest;
  if (size_t colon = v.rfind(':'); colon != std::string::npos && colon + 1 < v.size() &&
                                   v[colon + 1] == '/') {
    host = v.substr(0, colon);
    guest = v.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError("--file needs HOST[:GUEST]");
  if (host[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == nullptr) return absl::InternalError("getcwd failed");
    host = absl::StrCat(cwd, "/", host);
  }
  o->files.emplace_back(host, guest.empty() ? host : guest);
  return absl::OkStatus();
}

absl::StatusOr<ShellOptions> ParseShellArgs(const Args& args) {
  ShellOptions o;
  ktstr::v1::Topology* topo = o.start.mutable_shape()->mutable_topology();
  topo->set_numa_nodes(1);
  topo->set_llcs(1);
  topo->set_cores_per_llc(2);
  topo->set_threads_per_core(1);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      for (++i; i < args.size(); ++i) o.start.add_command(args[i]);
      break;
    }
    if (a == "-h" || a == "--help") {
      o.help = true;
      continue;
    }
    // "--name VALUE" or "--name=VALUE".
    std::string name = a.substr(0, a.find('=')), value;
    if (a.find('=') != std::string::npos) {
      value = a.substr(a.find('=') + 1);
    } else if (absl::StartsWith(a, "--") && i + 1 < args.size()) {
      value = args[++i];
    } else if (absl::StartsWith(a, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option or missing value: ", a));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", a, "' (a command goes after --)"));
    }
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    uint32_t n = 0;
    if (name == "--topology") {
      absl::StatusOr<ktstr::v1::Topology> t = ParseTopologyArg(value);
      if (!t.ok()) return t.status();
      *topo = *t;
    } else if (name == "--kernel") {
      if (absl::ascii_isdigit(value[0])) o.start.mutable_kernel()->set_version(value);
      else o.start.mutable_kernel()->set_cache_key(value);
    } else if (name == "--kernel-arg") {
      o.start.add_kernel_args(value);
    } else if (name == "--file") {
      if (absl::Status s = ParseFileArg(value, &o); !s.ok()) return s;
    } else if (name == "--timeout" || name == "--memory") {
      if (!absl::SimpleAtoi(value, &n) || n == 0) {
        return absl::InvalidArgumentError(absl::StrCat(name, " takes a positive whole number"));
      }
      if (name == "--timeout") o.start.set_timeout_s(n);
      else o.start.mutable_shape()->set_memory_mb(n);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", name));
    }
  }
  if (!o.start.has_kernel()) o.start.mutable_kernel()->set_use_default(true);
  return o;
}

// Uploads the --file files (and executables' libraries) into ShellStart.files.
absl::Status UploadFiles(ktstr::v1::Ktstrd::Stub* stub, ShellOptions* o) {
  for (const auto& [host, guest] : o->files) {
    struct stat st;
    if (stat(host.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("--file ", host, ": no such regular file"));
    }
    absl::StatusOr<UploadResult> up =
        UploadFile(stub, host, ktstr::v1::ARTIFACT_KIND_INCLUDE_FILE);
    if (!up.ok()) return up.status();
    ktstr::v1::GuestFile* f = o->start.add_files();
    *f->mutable_artifact() = up->ref;
    f->set_guest_path(guest);
    f->set_mode(st.st_mode & 07777);
    if ((st.st_mode & 0111) == 0) continue;
    absl::StatusOr<std::vector<ktstr::v1::GuestFile>> libs = UploadSharedLibraries(stub, host);
    if (!libs.ok()) return libs.status();
    for (auto& lib : *libs) *o->start.add_files() = std::move(lib);
  }
  return absl::OkStatus();
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Copies stdin and terminal resizes into the stream on its own thread until Stop().
class InputForwarder {
 public:
  InputForwarder(ShellStream* stream, WinchPipe* winch) : stream_(stream), winch_(winch) {
    if (pipe2(stop_, O_CLOEXEC) != 0) stop_[0] = stop_[1] = -1;
    thread_ = std::thread([this] { Loop(); });
  }
  ~InputForwarder() {
    char b = 's';
    ssize_t unused = write(stop_[1], &b, 1);
    (void)unused;
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
  }

 private:
  void Loop() {
    bool stdin_open = true;
    std::string buf(64 * 1024, '\0');
    while (true) {
      pollfd fds[3] = {{stop_[0], POLLIN, 0},
                       {winch_ ? winch_->read_fd() : -1, POLLIN, 0},
                       {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
      if (poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents != 0) return;
      ShellInput in;
      if (fds[1].revents != 0 && winch_->Drain() && stdin_open) {
        if (std::optional<TerminalSize> size = GetTerminalSize(STDIN_FILENO)) {
          in.mutable_resize()->set_rows(size->rows);
          in.mutable_resize()->set_cols(size->cols);
          if (!stream_->Write(in)) return;
        }
      }
      if (fds[2].revents == 0) continue;
      ssize_t n = read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {  // end of input: the daemon types it as ^D
        stdin_open = false;
        stream_->WritesDone();
        continue;
      }
      in.set_stdin(buf.data(), static_cast<size_t>(n));
      if (!stream_->Write(in)) return;  // the shell ended
    }
  }

  ShellStream* const stream_;
  WinchPipe* const winch_;
  int stop_[2];
  std::thread thread_;
};

// Relays the stream until the daemon ends it; returns the exit code or the RPC's error.
absl::StatusOr<int> RunShell(ktstr::v1::Ktstrd::Stub* stub, const ktstr::v1::ShellStart& start) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  ktstr::v1::ShellStart first = start;
  if (std::optional<TerminalSize> size = GetTerminalSize(tty ? STDIN_FILENO : STDOUT_FILENO)) {
    first.set_rows(size->rows);
    first.set_cols(size->cols);
  }
  grpc::ClientContext ctx;  // no deadline: the shell lives as long as the user wants
  std::unique_ptr<ShellStream> stream = stub->Shell(&ctx);
  ShellInput in;
  *in.mutable_start() = first;
  if (!stream->Write(in)) return absl::UnavailableError(FromGrpc(stream->Finish()).message());
  std::unique_ptr<WinchPipe> winch;
  if (tty) {
    absl::StatusOr<std::unique_ptr<WinchPipe>> w = WinchPipe::Create();
    if (w.ok()) winch = *std::move(w);
  }
  std::optional<int> exit_code;
  {
    std::unique_ptr<RawTerminal> raw;  // entered with the shell's first output, left below
    InputForwarder input(stream.get(), winch.get());
    ShellOutput out;
    while (stream->Read(&out)) {
      if (out.has_status()) {
        fprintf(stderr, "ktstr-client: %s%s", out.status().c_str(), raw ? "\r\n" : "\n");
      } else if (out.has_stdout()) {
        if (tty && !raw) {
          absl::StatusOr<std::unique_ptr<RawTerminal>> r = RawTerminal::Enter(STDIN_FILENO);
          if (r.ok()) raw = *std::move(r);
        }
        if (!WriteAll(STDOUT_FILENO, out.stdout())) ctx.TryCancel();  // stdout closed
      } else if (out.output_case() == ShellOutput::kExitCode) {
        exit_code = out.exit_code();
      }
    }
  }  // input forwarder stopped, terminal restored
  absl::Status s = FromGrpc(stream->Finish());
  if (!s.ok()) return s;
  if (!exit_code) return absl::InternalError("ktstrd ended the shell without an exit code");
  return *exit_code;
}

}  // namespace

int ShellCommand(const ConnectOptions& conn, const Args& args) {
  absl::StatusOr<ShellOptions> o = ParseShellArgs(args);
  if (!o.ok()) {
    fprintf(stderr, "ktstr-client shell: %s (see ktstr-client shell --help)\n",
            std::string(o.status().message()).c_str());
    return kExitUsage;
  }
  if (o->help) {
    fputs(kShellHelp, stdout);
    return kExitOk;
  }
  absl::StatusOr<Connection> c = Connect(conn);
  if (!c.ok()) return Fail(c.status());
  if (absl::Status s = UploadFiles(c->stub.get(), &*o); !s.ok()) return Fail(s);
  absl::StatusOr<int> code = RunShell(c->stub.get(), o->start);
  if (!code.ok()) return Fail(code.status());
  return *code;
}

}  // namespace ktstr::client
