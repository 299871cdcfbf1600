#include "guest_agent/testlib/harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "guest_agent/testlib/cgroup_manager.h"
#include "guest_agent/testlib/ctx.h"
#include "guest_agent/testlib/list_json.h"
#include "guest_agent/testlib/registry.h"
#include "guest_agent/testlib/report.h"
#include "spdlog/spdlog.h"

namespace ktstr {
namespace {

constexpr const char* kUsage = R"(usage: %1$s --ktstr-list
       %1$s --ktstr-run NAME [--ktstr-result-fd FD] [--ktstr-duration-s S]

A ktstr test binary: scheduler tests written with KTSTR_TEST.

  --ktstr-list           print every test and its attributes as JSON ({"tests":[...]})
  --ktstr-run NAME       run test NAME here: inside a ktstr VM, or on this host
                         ("bare-metal": under the active scheduler, in its own cgroup
                         subtree ktstr-<pid>, as root). Prints the verdict and stats.
  --ktstr-result-fd FD   also write the serialized ktstr.v1.TestReport to FD
  --ktstr-duration-s S   override the test's duration_s
  --help                 this text

Environment: SCHED_PID = pid of the scheduler under test (its death fails the test).
Exit codes of --ktstr-run: 0 pass, 1 fail, 2 skip, 3 harness error; 64 usage error.
Without arguments the binary hands itself to ktstrd: it runs `ktstr-client test <itself>`
(each test in its own VM with its topology) and exits with the client's status. The client
is $KTSTR_CLIENT, else client/ktstr-client in Bazel runfiles or in a directory above this
binary (bazel-bin), else ktstr-client on PATH.
)";

struct Options {
  bool list = false, help = false;
  std::string run;
  std::optional<int> result_fd;
  std::optional<double> duration_s;
};

bool ParseArgs(int argc, char** argv, Options* o, std::string* err) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    const size_t eq = arg.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto need = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        *err = absl::StrCat(arg, " needs a value");
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (arg == "--ktstr-list") {
      o->list = true;
    } else if (arg == "--help" || arg == "-h") {
      o->help = true;
    } else if (arg == "--ktstr-run") {
      if (!need()) return false;
      o->run = value;
    } else if (arg == "--ktstr-result-fd") {
      int fd = -1;
      if (!need()) return false;
      if (!absl::SimpleAtoi(value, &fd) || fd < 0) {
        *err = absl::StrCat("bad --ktstr-result-fd '", value, "'");
        return false;
      }
      o->result_fd = fd;
    } else if (arg == "--ktstr-duration-s") {
      double s = 0;
      if (!need()) return false;
      if (!absl::SimpleAtod(value, &s) || !(s > 0) || s > 3600) {
        *err = absl::StrCat("bad --ktstr-duration-s '", value, "' (0 < S <= 3600)");
        return false;
      }
      o->duration_s = s;
    } else {
      *err = absl::StrCat("unknown argument '", argv[i], "'");
      return false;
    }
  }
  return true;
}

void OnInterrupt(int) { g_interrupted = true; }

bool WriteReport(std::optional<int> fd, const v1::TestReport& report) {
  if (!fd.has_value()) return true;
  if (!report.SerializeToFileDescriptor(*fd)) {
    fprintf(stderr, "ktstr: could not write the TestReport to fd %d\n", *fd);
    return false;
  }
  return true;
}

int HarnessError(const Options& o, const std::string& name, const std::string& msg) {
  fprintf(stderr, "ktstr_test '%s': harness error: %s\n", name.c_str(), msg.c_str());
  AssertResult r = AssertResult::Fail(DetailKind::kOther, absl::StrCat("harness error: ", msg));
  WriteReport(o.result_fd, ToTestReport(name, r, v1::TEST_OUTCOME_UNSPECIFIED, 0,
                                        ActiveSchedulerName(), Assert{}));
  return kExitHarnessError;
}

int RunOne(const Options& o) {
  const TestEntry* entry = Registry::Get().Find(o.run);
  if (entry == nullptr) {
    std::vector<std::string> names;
    for (const TestEntry& t : Registry::Get().tests()) names.push_back(t.name);
    return HarnessError(
        o, o.run,
        absl::StrCat("no test named '", o.run, "' (tests: ", absl::StrJoin(names, ", "), ")"));
  }
  absl::StatusOr<ResolvedAttrs> attrs = ResolveAttrs(entry->name, entry->attrs);
  if (!attrs.ok()) return HarnessError(o, entry->name, std::string(attrs.status().message()));

  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  Ctx ctx;
  ctx.test_name = entry->name;
  absl::StatusOr<TestTopology> topo = TestTopology::FromSysfs();
  ctx.topo = topo.ok() ? *topo
                       : TestTopology::FromSpec(attrs->numa_nodes, attrs->llcs, attrs->cores,
                                                attrs->threads);
  if (const char* sp = getenv("SCHED_PID"); sp != nullptr && *sp != '\0') {
    int pid = 0;
    if (!absl::SimpleAtoi(sp, &pid) || pid <= 0) {
      return HarnessError(o, entry->name, absl::StrCat("bad SCHED_PID '", sp, "'"));
    }
    ctx.sched_pid = pid;
  }
  const double duration_s = o.duration_s.value_or(attrs->duration_s);
  ctx.duration = std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000));
  ctx.workers_per_cgroup = static_cast<int>(attrs->workers_per_cgroup);
  ctx.checks = attrs->checks;
  const std::string sched_name = ActiveSchedulerName();

  absl::StatusOr<std::unique_ptr<CgroupManager>> cgroups =
      CgroupManager::Open(absl::StrCat("ktstr-", getpid()));
  if (!cgroups.ok()) return HarnessError(o, entry->name, cgroups.status().ToString());
  ctx.cgroups = cgroups->get();

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<AssertResult> result = entry->fn(ctx);
  const double ran_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::Status cleanup = (*cgroups)->RemoveAll();
  cgroups->reset();
  if (!result.ok()) return HarnessError(o, entry->name, result.status().ToString());
  if (!cleanup.ok()) return HarnessError(o, entry->name, cleanup.ToString());

  AssertResult r = *std::move(result);
  v1::TestOutcome outcome = v1::TEST_OUTCOME_PASS;
  if (r.skipped) {
    outcome = v1::TEST_OUTCOME_SKIP;
  } else if (attrs->expect_err) {
    if (r.passed) {
      r.AddFailure(DetailKind::kOther, "expect_err: the test was expected to fail but passed");
      outcome = v1::TEST_OUTCOME_FAIL;
    }
  } else if (!r.passed) {
    outcome = v1::TEST_OUTCOME_FAIL;
  }
  const std::string head = absl::StrFormat("ktstr_test '%s' [sched=%s] [topo=%s]", entry->name,
                                           sched_name, ctx.topo.DebugString());
  const char* verdict = outcome == v1::TEST_OUTCOME_PASS   ? "PASS"
                        : outcome == v1::TEST_OUTCOME_SKIP ? "SKIP"
                                                           : "FAIL";
  printf("%s %s (%.2fs)%s\n", head.c_str(), verdict, ran_s,
         attrs->expect_err && outcome == v1::TEST_OUTCOME_PASS ? " (failed as expected)" : "");
  for (const AssertDetail& d : r.details) {
    printf("  %s: %s\n", DetailKindName(d.kind), d.message.c_str());
  }
  printf("--- stats ---\n%s", r.StatsText().c_str());
  fflush(stdout);
  if (!WriteReport(o.result_fd,
                   ToTestReport(entry->name, r, outcome, ran_s, sched_name, attrs->checks))) {
    return kExitHarnessError;
  }
  switch (outcome) {
    case v1::TEST_OUTCOME_PASS:
      return kExitPass;
    case v1::TEST_OUTCOME_SKIP:
      return kExitSkip;
    default:
      return kExitFail;
  }
}

// Where ktstr-client may be, in order; see kUsage.
std::vector<std::string> ClientCandidates(const std::string& self_dir) {
  std::vector<std::string> c;
  if (const char* env = getenv("KTSTR_CLIENT"); env && *env) return {env};
  for (const char* var : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = getenv(var); dir && *dir) {
      c.push_back(absl::StrCat(dir, "/ktstr/client/ktstr-client"));
    }
  }
  // In bazel-bin the client sits at <bin>/client/ktstr-client; the test binary is somewhere
  // below <bin>, possibly in a nested package.
  std::string dir = self_dir;
  for (int up = 0; up < 8 && !dir.empty(); ++up) {
    c.push_back(absl::StrCat(dir, "/client/ktstr-client"));
    dir = dir.substr(0, dir.rfind('/'));
  }
  const char* path = getenv("PATH");
  for (absl::string_view d : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    c.push_back(absl::StrCat(d, "/ktstr-client"));
  }
  return c;
}

// No arguments on a host: run every test through ktstrd. exec keeps the client's exit
// status (0 all passed, 1 a test failed) as this binary's, which is what `bazel test` and
// shell scripts read.
int HandToKtstrd(const char* prog) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    fprintf(stderr, "%s: cannot find its own path (/proc/self/exe): %s\n", prog, strerror(errno));
    return kExitHarnessError;
  }
  std::string self(buf, static_cast<size_t>(n));
  std::string self_dir = self.substr(0, self.rfind('/'));
  std::vector<std::string> tried = ClientCandidates(self_dir);
  for (const std::string& client : tried) {
    if (access(client.c_str(), X_OK) != 0) continue;
    fprintf(stderr, "%s: running its tests through ktstrd: %s test %s\n", prog, client.c_str(),
            self.c_str());
    fflush(stderr);
    execl(client.c_str(), client.c_str(), "test", self.c_str(), static_cast<char*>(nullptr));
    fprintf(stderr, "%s: exec %s: %s\n", prog, client.c_str(), strerror(errno));
    return kExitHarnessError;
  }
  fprintf(stderr,
          "%s: ktstr-client not found, so its tests cannot be handed to ktstrd. Tried:\n  %s\n"
          "Set KTSTR_CLIENT=/path/to/ktstr-client or put ktstr-client on PATH; or list the "
          "tests with --ktstr-list, or run one bare-metal on this host (root):\n"
          "  %s --ktstr-run NAME [--ktstr-duration-s S]\n",
          prog, absl::StrJoin(tried, "\n  ").c_str(), prog);
  return kExitHarnessError;
}

}  // namespace

int RunHarness(int argc, char** argv) {
  Options o;
  std::string err;
  const char* prog = argc > 0 ? argv[0] : "ktstr_test";
  if (!ParseArgs(argc, argv, &o, &err)) {
    fprintf(stderr, "%s: %s\n", prog, err.c_str());
    fprintf(stderr, kUsage, prog);
    return kExitUsage;
  }
  if (o.help) {
    printf(kUsage, prog);
    return kExitPass;
  }
  const Registry& reg = Registry::Get();
  if (!reg.errors().empty()) {
    for (const std::string& e : reg.errors())
      fprintf(stderr, "ktstr: invalid test: %s\n", e.c_str());
    return kExitHarnessError;
  }
  if (o.list) {
    absl::StatusOr<std::string> json = TestsToJson(reg.tests());
    if (!json.ok()) {
      fprintf(stderr, "ktstr: %s\n", std::string(json.status().message()).c_str());
      return kExitHarnessError;
    }
    printf("%s\n", json->c_str());
    return kExitPass;
  }
  if (!o.run.empty()) return RunOne(o);
  return HandToKtstrd(prog);
}

}  // namespace ktstr
