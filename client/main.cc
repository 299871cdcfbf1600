// ktstr-client: the command line over ktstrd's API. A table of subcommands (Ninja's kTools
// shape) and two global options.
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/shell_command.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using ktstr::client::Args;
using ktstr::client::ConnectOptions;

struct Command {
  const char* name;
  const char* help;
  int (*fn)(const ConnectOptions&, const Args&);
};

constexpr Command kCommands[] = {
    {"test", "BINARY... [-E FILTER] [--kernel K] [--topology N,L,C,T] [--duration S] [--json]"
             " [--junit FILE] [--label K=V] [-v]\n      run the tests of ktstr test binaries in VMs",
     ktstr::client::TestCommand},
    {"stats", "list [--all] | show [RUN] | compare A B [--threshold PCT]\n"
              "      stored results", ktstr::client::StatsCommand},
    {"pool", "status | target N,L,C,T COUNT [--memory MB] [--kernel KEY]\n      the warm VM pool",
     ktstr::client::PoolCommand},
    {"kernel", "list [--json] | import PATH [--vmlinux F] [--config F] [--version V] [--default]"
               " | remove KEY | clean [--keep N] [--corrupt-only]"
               " | build [VERSION] [--source DIR] [--force] [--clean] [-j N] [--default]\n"
               "      guest kernels the daemon can boot (its kernel cache)",
     ktstr::client::KernelCommand},
    {"daemon", "status | stop [--drain]\n      the daemon itself", ktstr::client::DaemonCommand},
    {"cancel", "RUN\n      cancel a run's queued and running jobs", ktstr::client::CancelCommand},
    {"shell", ktstr::client::kShellUsage, ktstr::client::ShellCommand},
};

void PrintHelp() {
  printf("ktstr-client: run scheduler tests in VMs through ktstrd, and read their results.\n\n"
         "usage: ktstr-client [--socket PATH] [--no-autostart] COMMAND ARGS...\n\n"
         "  --socket PATH    ktstrd's socket (default $XDG_RUNTIME_DIR/ktstr/ktstrd.sock)\n"
         "  --no-autostart   fail instead of starting a per-user ktstrd when none answers\n\n"
         "commands:\n");
  for (const Command& c : kCommands) printf("  %s %s\n", c.name, c.help);
  printf("\nexit codes: 0 ok / all passed, 1 a test failed, 2 usage, 3 error\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Libraries the client links (kernel_cache for `kernel build`) log through spdlog: their
  // warnings go to stderr, never into the command's output; info is noise here.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("ktstr-client"));
  spdlog::set_pattern("ktstr-client: %l: %v");
  spdlog::set_level(spdlog::level::warn);
  ConnectOptions conn;
  int i = 1;
  for (; i < argc && absl::StartsWith(argv[i], "-"); ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      PrintHelp();
      return ktstr::client::kExitOk;
    } else if (a == "--no-autostart") {
      conn.autostart = false;
    } else if (a == "--socket" && i + 1 < argc) {
      conn.socket_path = argv[++i];
    } else if (absl::StartsWith(a, "--socket=")) {
      conn.socket_path = a.substr(strlen("--socket="));
    } else {
      fprintf(stderr, "ktstr-client: unknown option %s (see --help)\n", a.c_str());
      return ktstr::client::kExitUsage;
    }
  }
  if (i >= argc) {
    PrintHelp();
    return ktstr::client::kExitUsage;
  }
  Args args(argv + i + 1, argv + argc);
  for (const Command& c : kCommands) {
    if (std::strcmp(c.name, argv[i]) == 0) {
      if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        printf("ktstr-client %s %s\n", c.name, c.help);
        return ktstr::client::kExitOk;
      }
      return c.fn(conn, args);
    }
  }
  fprintf(stderr, "ktstr-client: unknown command '%s' (see --help)\n", argv[i]);
  return ktstr::client::kExitUsage;
}
