#include "scheduler_tests/schedulers/scx_fifo_options.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "scheduler_tests/schedulers/scx_fifo.h"

namespace ktstr::schedulers {
namespace {

template <typename T>
absl::Status ParseNumber(absl::string_view flag, absl::string_view text, T* out) {
  if constexpr (std::is_signed_v<T>) {
    int64_t v;
    if (!absl::SimpleAtoi(text, &v) || v < std::numeric_limits<T>::min() ||
        v > std::numeric_limits<T>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": not an integer: '", text, "'"));
    }
    *out = static_cast<T>(v);
  } else {
    uint64_t v;
    if (!absl::SimpleAtoi(text, &v) || v > std::numeric_limits<T>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": not a non-negative integer: '", text, "'"));
    }
    *out = static_cast<T>(v);
  }
  return absl::OkStatus();
}

}  // namespace

std::string ScxFifoUsage() {
  return absl::StrCat(
      "usage: scx_fifo [options]\n"
      "\n"
      "Loads and attaches the scx_fifo sched_ext scheduler (one global FIFO; see the policy\n"
      "comment at the top of scx_fifo.bpf.c) and runs until SIGINT/SIGTERM or until the kernel\n"
      "disables it, then prints the kernel's exit reason (and debug dump) on stderr.\n"
      "Exit status: 0 after any scheduler exit (kernel-side exits included), 1 when loading or\n"
      "attaching failed (the verifier's log is on stderr), 2 on bad usage.\n"
      "\n"
      "options:\n"
      "  --timeout-ms=MS        watchdog timeout (default: the kernel's, 30000)\n"
      "  --stats-interval=S     print counters every S seconds (default: only at exit)\n"
      "fault knobs (prove that ktstr's checks catch real bugs):\n"
      "  --stall-after=N        after N inserts, park user tasks forever (watchdog ejects us)\n"
      "  --degrade=CGROUP       starve the cgroup with this leaf name (e.g. cg_1) under load\n"
      "  --error-after=N        call scx_bpf_error() on the N-th insert\n"
      "  --fail-verify          load a program the verifier rejects\n"
      "  --exit-now=CODE        exit with CODE at once, loading nothing\n"
      "  --help                 this text\n"
      "degrade cgroup names are at most ",
      SCX_FIFO_CGROUP_NAME_LEN - 1, " bytes.\n");
}

absl::StatusOr<ScxFifoOptions> ParseScxFifoOptions(const std::vector<std::string>& args) {
  ScxFifoOptions opts;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name(arg);
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    }
    auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (value) return *value;
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      return args[++i];
    };
    auto no_value = [&]() -> absl::Status {
      return value ? absl::InvalidArgumentError(absl::StrCat(name, " takes no value"))
                   : absl::OkStatus();
    };
    absl::Status st;
    if (name == "--help" || name == "-h") {
      st = no_value();
      opts.help = true;
    } else if (name == "--fail-verify") {
      st = no_value();
      opts.fail_verify = true;
    } else if (name == "--timeout-ms" || name == "--stats-interval" || name == "--stall-after" ||
               name == "--error-after" || name == "--exit-now" || name == "--degrade") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (name == "--timeout-ms") {
        st = ParseNumber(name, *v, &opts.timeout_ms);
      } else if (name == "--stats-interval") {
        st = ParseNumber(name, *v, &opts.stats_interval_s);
      } else if (name == "--stall-after") {
        st = ParseNumber(name, *v, &opts.stall_after);
        if (st.ok() && opts.stall_after == 0) {
          st = absl::InvalidArgumentError("--stall-after must be at least 1");
        }
      } else if (name == "--error-after") {
        st = ParseNumber(name, *v, &opts.error_after);
        if (st.ok() && opts.error_after == 0) {
          st = absl::InvalidArgumentError("--error-after must be at least 1");
        }
      } else if (name == "--exit-now") {
        int code = 0;
        st = ParseNumber(name, *v, &code);
        if (st.ok() && (code < 0 || code > 255)) {
          st = absl::InvalidArgumentError("--exit-now: exit code must be 0..255");
        }
        opts.exit_now = code;
      } else {  // --degrade
        if (v->empty() || v->size() >= SCX_FIFO_CGROUP_NAME_LEN || v->find('/') != std::string::npos) {
          st = absl::InvalidArgumentError(absl::StrCat(
              "--degrade: want a cgroup leaf name of 1..", SCX_FIFO_CGROUP_NAME_LEN - 1,
              " bytes without '/', got '", *v, "'"));
        }
        opts.degrade_cgroup = *v;
      }
    } else {
      st = absl::InvalidArgumentError(absl::StrCat("unknown option '", name, "' (see --help)"));
    }
    if (!st.ok()) return st;
  }
  return opts;
}

}  // namespace ktstr::schedulers
