// ktstr-agent: the guest's /init. As PID 1 it mounts the pseudo filesystems and then runs the
// agent proper in a child process while it reaps every orphan; the agent serves the
// agent.proto protocol on the virtio-serial port "ktstr.agent". With --no-pid1 it is an
// ordinary process serving a unix socket (host-side tests).
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "guest_agent/agent_server.h"
#include "guest_agent/channel.h"
#include "guest_agent/pid1.h"
#include "guest_agent/scheduler_starter.h"
#include "spdlog/spdlog.h"

namespace ktstr::agent {
namespace {

namespace config {
// An agent that crashes is restarted this many times before the VM powers off: one bug in a
// rare request should not take the VM down, a crash loop should.
constexpr int kMaxAgentRestarts = 3;
// How often a disconnected virtio port is polled (it reads 0 while no host is connected).
constexpr auto kDisconnectedPoll = std::chrono::milliseconds(100);
// How long the channel device is waited for at boot.
constexpr auto kChannelWait = std::chrono::seconds(10);
}  // namespace config

constexpr char kReadyMarker[] = "KTSTR_AGENT_READY";

constexpr char kUsage[] = R"(ktstr-agent: the ktstr guest agent (/init of a ktstr VM)

Usage: ktstr-agent [--no-pid1] [--channel=SPEC] [--host-gone-s=N] [--verbose]

As PID 1 (the normal case) it mounts proc, sysfs, devtmpfs, cgroup2, debugfs, tracefs, bpffs
and tmpfs, reaps orphans, and runs the agent, which serves proto/ktstr/agent/v1/agent.proto
frames on the virtio-serial port named "ktstr.agent" and prints KTSTR_AGENT_READY on
/dev/console once it serves. Kernel command line: ktstr.channel=SPEC, ktstr.host_gone_s=N.

  --no-pid1         run as an ordinary process (host-side tests): no mounts, no clock or
                    kernel-log access, Shutdown exits the process instead of powering off
  --channel=SPEC    vport (default), vport:NAME, unix:PATH (connect to a listening socket),
                    dev:PATH (a character device)
  --host-gone-s=N   power off (with --no-pid1: exit) when the host has been disconnected for
                    N seconds after having connected once (0 = never, the default: warm-pool
                    snapshots disconnect)
  --verbose         debug logging
  --help            this text
)";

struct Flags {
  bool no_pid1 = false;
  bool verbose = false;
  std::string channel;
  int host_gone_s = 0;
};

int RunAgent(const Flags& flags, bool in_vm) {
  ::signal(SIGPIPE, SIG_IGN);
  auto addr = ParseChannelAddress(flags.channel);
  if (!addr.ok()) {
    std::fprintf(stderr, "ktstr-agent: %s\n", std::string(addr.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<int> fd = OpenChannel(*addr);
  auto give_up = std::chrono::steady_clock::now() + config::kChannelWait;
  while (!fd.ok() && in_vm && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(config::kDisconnectedPoll);
    fd = OpenChannel(*addr);
  }
  if (!fd.ok()) {
    std::string msg = absl::StrCat("ktstr-agent: cannot open the channel: ", fd.status().message());
    if (in_vm) ConsoleLine(msg);
    std::fprintf(stderr, "%s\n", msg.c_str());
    return 1;
  }
  std::atomic<bool> stop{false};
  auto starter = MakeDefaultSchedulerStarter();
  FdMessageSink sink(*fd);
  AgentServerOptions opts;
  opts.allow_set_time = in_vm;
  opts.allow_kernel_log = in_vm;
  opts.scheduler_starter = starter.get();
  opts.on_shutdown = [&, chan = *fd](bool reboot) {
    if (in_vm) PowerOff(reboot);
    stop = true;
    ::shutdown(chan, SHUT_RD);
  };
  AgentServer server(std::move(opts), &sink);
  if (in_vm) {
    ConsoleLine(kReadyMarker);
  } else {
    std::printf("%s\n", kReadyMarker);
    std::fflush(stdout);
  }

  const bool is_socket = addr->kind == ChannelAddress::Kind::kUnixSocket;
  std::string buf(64 << 10, '\0');
  bool had_host = false;
  auto last_seen = std::chrono::steady_clock::now();
  while (!stop) {
    ssize_t n = ::read(*fd, buf.data(), buf.size());
    if (n > 0) {
      had_host = true;
      last_seen = std::chrono::steady_clock::now();
      server.OnBytes(absl::string_view(buf.data(), static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (is_socket) break;  // the host closed its end: we are done
    // A virtio port reads 0 (or fails) while no host is connected: wait for the next one.
    if (had_host && flags.host_gone_s > 0 &&
        std::chrono::steady_clock::now() - last_seen > std::chrono::seconds(flags.host_gone_s)) {
      if (!in_vm) break;  // never power off the machine a --no-pid1 agent runs on
      ConsoleLine("ktstr-agent: host gone, powering off");
      server.CancelAll();
      PowerOff(false);
    }
    std::this_thread::sleep_for(config::kDisconnectedPoll);
  }
  server.CancelAll();
  ::close(*fd);
  return 0;
}

[[noreturn]] void RunAsInit(Flags flags) {
  if (absl::Status s = MountPseudoFilesystems(); !s.ok()) {
    ConsoleLine(absl::StrCat("ktstr-agent: ", s.message()));
    PowerOff(false);
  }
  ::setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  ::setenv("HOME", "/root", 1);
  ::setenv("TERM", "linux", 0);
  if (std::string c = KernelCmdlineParam("ktstr.channel"); !c.empty()) flags.channel = c;
  if (std::string g = KernelCmdlineParam("ktstr.host_gone_s"); !g.empty())
    (void)absl::SimpleAtoi(g, &flags.host_gone_s);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2}) ::signal(sig, SIG_IGN);

  for (int attempt = 0; attempt <= config::kMaxAgentRestarts; ++attempt) {
    pid_t agent = ::fork();
    if (agent == 0) {
      for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) ::signal(sig, SIG_DFL);
      ::_exit(RunAgent(flags, /*in_vm=*/true));
    }
    if (agent < 0) break;
    // PID 1: reap everything; only the agent's own exit matters.
    int status = 0;
    while (true) {
      pid_t r = ::waitpid(-1, &status, 0);
      if (r == agent) break;
      if (r < 0 && errno == ECHILD) break;
    }
    ConsoleLine(absl::StrCat("ktstr-agent: agent process ended (",
                             WIFSIGNALED(status) ? absl::StrCat("signal ", WTERMSIG(status))
                                                 : absl::StrCat("exit ", WEXITSTATUS(status)),
                             ")", attempt < config::kMaxAgentRestarts ? ", restarting" : ""));
  }
  PowerOff(false);
  while (true) ::pause();  // reboot() failed: PID 1 must never exit
}

}  // namespace
}  // namespace ktstr::agent

int main(int argc, char** argv) {
  using ktstr::agent::Flags;
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(ktstr::agent::kUsage, stdout);
      return 0;
    } else if (a == "--no-pid1") {
      flags.no_pid1 = true;
    } else if (a == "--verbose") {
      flags.verbose = true;
    } else if (absl::StartsWith(a, "--channel=")) {
      flags.channel = a.substr(10);
    } else if (absl::StartsWith(a, "--host-gone-s=")) {
      if (!absl::SimpleAtoi(a.substr(14), &flags.host_gone_s) || flags.host_gone_s < 0) {
        std::fprintf(stderr, "ktstr-agent: bad %s\n", a.c_str());
        return 2;
      }
    } else if (::getpid() != 1) {
      // As PID 1 the kernel passes unknown boot parameters as arguments: ignore them there.
      std::fprintf(stderr, "ktstr-agent: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  spdlog::set_level(flags.verbose ? spdlog::level::debug : spdlog::level::warn);
  if (::getpid() == 1 && !flags.no_pid1) ktstr::agent::RunAsInit(flags);
  return ktstr::agent::RunAgent(flags, /*in_vm=*/false);
}
