// `ktstr-client test BINARY... [-E FILTER] [--kernel K] [--topology N,L,C,T] [--json]
// [--junit FILE]`: lists the tests of each binary, uploads binaries and their library
// closure, submits one run, prints one line per test as results arrive, and a summary.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/arg_reader.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/job_builder.h"
#include "client/listed_tests.h"
#include "client/run_session.h"
#include "client/scheduler_binary.h"
#include "client/topology_arg.h"

namespace ktstr::client {
namespace {

struct TestOptions : SharedRunOptions {
  std::vector<std::string> binaries;
  std::string kernel;
  std::optional<ktstr::v1::Topology> topology;
};

absl::StatusOr<TestOptions> ParseArgs(const Args& args) {
  TestOptions o;
  ArgReader r(args);
  std::string v;
  absl::Status bad;
  while (r.Next() && r.status().ok() && bad.ok()) {
    const std::string& a = r.arg();
    if (ParseSharedRunOption(r, &o, &bad)) {
      // -E, --duration, --label, --json, --junit, -v
    } else if (r.Option("--kernel", &v)) {
      o.kernel = v;
    } else if (r.Option("--topology", &v)) {
      if (!r.status().ok()) break;
      absl::StatusOr<ktstr::v1::Topology> t = ParseTopologyArg(v);
      if (!t.ok()) return t.status();
      o.topology = *t;
    } else if (absl::StartsWith(a, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    } else {
      o.binaries.push_back(a);
    }
  }
  if (!r.status().ok()) return r.status();
  if (!bad.ok()) return bad;
  if (o.binaries.empty()) {
    return absl::InvalidArgumentError("usage: ktstr-client test BINARY... [-E FILTER] "
                                      "[--kernel K] [--topology N,L,C,T] [--json] [--junit FILE]");
  }
  return o;
}

}  // namespace

int TestCommand(const ConnectOptions& conn_opts, const Args& args) {
  absl::StatusOr<TestOptions> o = ParseArgs(args);
  if (!o.ok()) {
    fprintf(stderr, "ktstr-client test: %s\n", std::string(o.status().message()).c_str());
    return kExitUsage;
  }
  const absl::Time t0 = absl::Now();
  absl::StatusOr<Connection> conn = Connect(conn_opts);
  if (!conn.ok()) return Fail(conn.status());
  ktstr::v1::SubmitRunRequest req;
  ktstr::v1::RunSpec* spec = req.mutable_spec();
  spec->set_description(absl::StrCat("ktstr-client test ", absl::StrJoin(args, " ")));
  const char* sched_path_env = getenv(config::kSchedulerPathEnv);
  JobBuilder builder(conn->stub.get(), sched_path_env ? sched_path_env : "");
  JobVariant variant{.topology = o->topology ? &*o->topology : nullptr,
                     .kernel = o->kernel,
                     .duration_s = o->duration_s};
  for (const std::string& binary : o->binaries) {
    absl::StatusOr<ktstr::v1::TestList> list = ListTests(binary);
    if (!list.ok()) return Fail(list.status());
    for (const ktstr::v1::ListedTest& t : list->tests()) {
      if (!o->filter.empty() && !absl::StrContains(t.name(), o->filter)) continue;
      absl::StatusOr<ktstr::v1::JobSpec> job = builder.Build(binary, t, variant);
      if (!job.ok()) return Fail(job.status());
      // The "binary" label Build set wins over a --label of the same key.
      for (const auto& [k, val] : o->labels) job->mutable_labels()->insert({k, val});
      *spec->add_jobs() = *std::move(job);
    }
  }
  if (spec->jobs_size() == 0) {
    fprintf(stderr, "ktstr-client: no test matches%s\n",
            o->filter.empty() ? "" : absl::StrCat(" -E ", o->filter).c_str());
    return kExitUsage;
  }
  absl::StatusOr<ktstr::v1::Run> run = SubmitAndFollow(*conn, std::move(req), o->output);
  if (!run.ok()) return Fail(run.status());
  return FinishRun(*run, o->output, absl::ToDoubleSeconds(absl::Now() - t0),
                   Basename(o->binaries[0]));
}

}  // namespace ktstr::client
