// `stats`, `pool`, `daemon` and `cancel`: thin views over unary RPCs.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/printer.h"
#include "client/topology_arg.h"

namespace ktstr::client {
namespace {

std::string Date(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

int Usage(const char* text) {
  fprintf(stderr, "usage: %s\n", text);
  return kExitUsage;
}

int StatsList(Connection& c, bool all) {
  ktstr::v1::ListRunsRequest req;
  req.set_all_users(all);
  ktstr::v1::ListRunsResponse resp;
  if (auto s = FromGrpc(c.stub->ListRuns(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  printf("%-22s %7s  %-19s  %-7s %s\n", "RUN", "TESTS", "DATE", "ARCH", "RESULT");
  for (const auto& r : resp.runs()) {
    std::string result = r.state() == ktstr::v1::RUN_STATE_ACTIVE
                             ? "running"
                             : absl::StrFormat("%u passed, %u failed, %u skipped", r.jobs_passed(),
                                               r.jobs_failed(), r.jobs_skipped());
    printf("%-22s %7u  %-19s  %-7s %s\n", r.run_id().c_str(), r.jobs_total(),
           Date(r.created_unix_ms()).c_str(), r.arch().c_str(), result.c_str());
  }
  return kExitOk;
}

int StatsShow(Connection& c, const std::string& id) {
  ktstr::v1::GetRunRequest req;
  req.set_run_id(id);
  ktstr::v1::GetRunResponse resp;
  if (auto s = FromGrpc(c.stub->GetRun(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  fputs(FormatRunDetail(resp.run()).c_str(), stdout);
  return kExitOk;
}

int StatsCompare(Connection& c, const std::string& a, const std::string& b, double threshold) {
  ktstr::v1::CompareRunsRequest req;
  req.set_run_a(a);
  req.set_run_b(b);
  req.set_threshold_pct(threshold);
  ktstr::v1::CompareRunsResponse resp;
  if (auto s = FromGrpc(c.stub->CompareRuns(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  for (const auto& j : resp.jobs()) {
    printf("%s: %s -> %s\n", j.key().c_str(), StatusWord(j.verdict_a()).c_str(),
           StatusWord(j.verdict_b()).c_str());
    for (const auto& d : j.deltas()) {
      if (!d.significant()) continue;
      printf("  %-30s %12.3f -> %12.3f  (%+.1f%%) %s\n", d.metric().c_str(), d.a(), d.b(),
             d.a() != 0 ? 100.0 * d.delta() / d.a() : 0.0,
             d.regression() ? "REGRESSION" : "improvement");
    }
  }
  for (const auto& k : resp.only_in_a()) printf("only in %s: %s\n", a.c_str(), k.c_str());
  for (const auto& k : resp.only_in_b()) printf("only in %s: %s\n", b.c_str(), k.c_str());
  printf("%u regressions, %u improvements\n", resp.regressions(), resp.improvements());
  return resp.regressions() > 0 ? kExitTestsFailed : kExitOk;
}

}  // namespace

int Fail(const absl::Status& s) {
  fprintf(stderr, "ktstr-client: %s\n", std::string(s.message()).c_str());
  return kExitError;
}

int StatsCommand(const ConnectOptions& opts, const Args& args) {
  const char* usage = "ktstr-client stats list [--all] | show RUN | compare A B [--threshold PCT]";
  if (args.empty()) return Usage(usage);
  absl::StatusOr<Connection> c = Connect(opts);
  if (!c.ok()) return Fail(c.status());
  if (args[0] == "list") return StatsList(*c, args.size() > 1 && args[1] == "--all");
  if (args[0] == "show") return StatsShow(*c, args.size() > 1 ? args[1] : "latest");
  if (args[0] == "compare" && args.size() >= 3) {
    double threshold = 0;
    if (args.size() >= 5 && args[3] == "--threshold" && !absl::SimpleAtod(args[4], &threshold)) {
      return Usage(usage);
    }
    return StatsCompare(*c, args[1], args[2], threshold);
  }
  return Usage(usage);
}

int PoolCommand(const ConnectOptions& opts, const Args& args) {
  const char* usage =
      "ktstr-client pool status | target N,L,C,T COUNT [--memory MB] [--kernel KEY]";
  if (args.empty()) return Usage(usage);
  absl::StatusOr<Connection> c = Connect(opts);
  if (!c.ok()) return Fail(c.status());
  if (args[0] == "status") {
    ktstr::v1::GetPoolStatusResponse resp;
    if (auto s = FromGrpc(c->stub->GetPoolStatus(ContextWithDeadline().get(), {}, &resp));
        !s.ok()) {
      return Fail(s);
    }
    printf("accelerator %s; budget %u/%u vCPUs, %lu/%lu MiB in use\n", resp.accelerator().c_str(),
           resp.vcpus_in_use(), resp.vcpu_budget(), resp.memory_in_use_mb(),
           resp.memory_budget_mb());
    printf("%-46s %-15s %6s %8s %5s %7s  %s\n", "KERNEL", "SHAPE", "READY", "BOOTING", "BUSY",
           "TARGET", "MODE");
    for (const auto& p : resp.pools()) {
      std::string mode = p.mode() == ktstr::v1::POOL_MODE_SNAPSHOT
                             ? "snapshot"
                             : absl::StrCat("cold boot: ", p.mode_reason());
      std::string shape = absl::StrCat(p.topology(), "/", p.key().shape().memory_mb(), "M");
      printf("%-46s %-15s %6u %8u %5u %7u  %s\n", p.key().kernel_key().c_str(), shape.c_str(), p.ready(), p.booting(), p.busy(), p.target(), mode.c_str());
      if (!p.last_error().empty()) printf("    last error: %s\n", p.last_error().c_str());
    }
    return kExitOk;
  }
  if (args[0] == "target" && args.size() >= 3) {
    absl::StatusOr<ktstr::v1::Topology> t = ParseTopologyArg(args[1]);
    if (!t.ok()) return Fail(t.status());
    uint32_t n;
    if (!absl::SimpleAtoi(args[2], &n)) return Usage(usage);
    ktstr::v1::SetPoolTargetRequest req;
    *req.mutable_key()->mutable_shape()->mutable_topology() = *t;
    for (size_t i = 3; i + 1 < args.size(); i += 2) {
      uint32_t mb;
      if (args[i] == "--kernel") {
        req.mutable_key()->set_kernel_key(args[i + 1]);
      } else if (args[i] == "--memory" && absl::SimpleAtoi(args[i + 1], &mb)) {
        req.mutable_key()->mutable_shape()->set_memory_mb(mb);
      } else {
        return Usage(usage);
      }
    }
    if (req.key().kernel_key().empty()) {  // the daemon's default kernel, by its cache key
      ktstr::v1::GetDaemonStatusResponse st;
      if (auto s = FromGrpc(c->stub->GetDaemonStatus(ContextWithDeadline().get(), {}, &st));
          !s.ok()) {
        return Fail(s);
      }
      req.mutable_key()->set_kernel_key(st.default_kernel_key());
    }
    req.set_target(n);
    ktstr::v1::SetPoolTargetResponse resp;
    if (auto s = FromGrpc(c->stub->SetPoolTarget(ContextWithDeadline().get(), req, &resp));
        !s.ok()) {
      return Fail(s);
    }
    printf("pool %s %s: target %u\n", resp.pool().key().kernel_key().c_str(),
           resp.pool().topology().c_str(), resp.pool().target());
    return kExitOk;
  }
  return Usage(usage);
}

int DaemonCommand(const ConnectOptions& opts, const Args& args) {
  const char* usage = "ktstr-client daemon status | stop [--drain]";
  if (args.empty()) return Usage(usage);
  ConnectOptions no_start = opts;
  no_start.autostart = false;  // asking about (or stopping) a daemon never starts one
  absl::StatusOr<Connection> c = Connect(no_start);
  if (!c.ok()) return Fail(c.status());
  if (args[0] == "status") {
    ktstr::v1::GetDaemonStatusResponse r;
    if (auto s = FromGrpc(c->stub->GetDaemonStatus(ContextWithDeadline().get(), {}, &r)); !s.ok()) {
      return Fail(s);
    }
    printf("ktstrd %s, pid %u, up since %s UTC (%s mode)\n", r.version().c_str(), r.pid(),
           Date(r.started_unix_ms()).c_str(), r.system_mode() ? "system" : "per-user");
    printf("  socket      %s\n  state       %s\n  results     %s\n  accelerator %s\n"
           "  kernel      %s\n  runs active %u, jobs queued %u, running %u, VMs %u\n",
           r.socket_path().c_str(), r.state_dir().c_str(), r.results_db().c_str(),
           r.accelerator().c_str(), r.default_kernel_key().c_str(), r.runs_active(),
           r.jobs_queued(), r.jobs_running(), r.vms_running());
    return kExitOk;
  }
  if (args[0] == "stop") {
    ktstr::v1::StopDaemonRequest req;
    req.set_drain(args.size() > 1 && args[1] == "--drain");
    ktstr::v1::StopDaemonResponse resp;
    auto ctx = ContextWithDeadline(req.drain() ? absl::Hours(2) : absl::Seconds(30));
    if (auto s = FromGrpc(c->stub->StopDaemon(ctx.get(), req, &resp)); !s.ok()) return Fail(s);
    printf("ktstrd on %s is stopping\n", c->socket_path.c_str());
    return kExitOk;
  }
  return Usage(usage);
}

int CancelCommand(const ConnectOptions& opts, const Args& args) {
  if (args.size() != 1) return Usage("ktstr-client cancel RUN");
  absl::StatusOr<Connection> c = Connect(opts);
  if (!c.ok()) return Fail(c.status());
  ktstr::v1::CancelRunRequest req;
  req.set_run_id(args[0]);
  ktstr::v1::CancelRunResponse resp;
  if (auto s = FromGrpc(c->stub->CancelRun(ContextWithDeadline().get(), req, &resp)); !s.ok()) {
    return Fail(s);
  }
  printf("run %s: %u jobs cancelled\n", args[0].c_str(), resp.jobs_cancelled());
  return kExitOk;
}

}  // namespace ktstr::client
