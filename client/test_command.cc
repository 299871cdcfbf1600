// `ktstr-client test BINARY... [-E FILTER] [--kernel K] [--topology N,L,C,T] [--json]
// [--junit FILE]`: lists the tests of each binary, uploads binaries and their library
// closure, submits one run, prints one line per test as results arrive, and a summary.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/closure.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/junit.h"
#include "client/printer.h"
#include "client/scheduler_binary.h"
#include "client/topology_arg.h"
#include "client/upload.h"
#include "proto/ktstr/v1/test_list.pb.h"

namespace ktstr::client {
namespace {

struct TestOptions {
  std::vector<std::string> binaries;
  std::string filter;
  std::string kernel;
  std::optional<ktstr::v1::Topology> topology;
  uint32_t duration_s = 0;
  bool json = false;
  bool verbose = false;
  std::string junit;
  std::map<std::string, std::string> labels;  // --label K=V, on every job
};

absl::StatusOr<TestOptions> ParseArgs(const Args& args) {
  TestOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> absl::StatusOr<std::string> {
      if (absl::StartsWith(a, absl::StrCat(name, "="))) return a.substr(strlen(name) + 1);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      return args[++i];
    };
    auto is = [&](const char* name) {
      return a == name || absl::StartsWith(a, absl::StrCat(name, "="));
    };
    absl::StatusOr<std::string> v;
    if (is("-E") || is("--filter")) {
      if (!(v = value(is("-E") ? "-E" : "--filter")).ok()) return v.status();
      o.filter = *v;
    } else if (is("--kernel")) {
      if (!(v = value("--kernel")).ok()) return v.status();
      o.kernel = *v;
    } else if (is("--topology")) {
      if (!(v = value("--topology")).ok()) return v.status();
      absl::StatusOr<ktstr::v1::Topology> t = ParseTopologyArg(*v);
      if (!t.ok()) return t.status();
      o.topology = *t;
    } else if (is("--duration")) {
      if (!(v = value("--duration")).ok()) return v.status();
      if (!absl::SimpleAtoi(*v, &o.duration_s)) {
        return absl::InvalidArgumentError("--duration takes whole seconds");
      }
    } else if (is("--junit")) {
      if (!(v = value("--junit")).ok()) return v.status();
      o.junit = *v;
    } else if (is("--label")) {
      if (!(v = value("--label")).ok()) return v.status();
      size_t eq = v->find('=');
      if (eq == std::string::npos) return absl::InvalidArgumentError("--label takes KEY=VALUE");
      o.labels[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else if (absl::StartsWith(a, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    } else {
      o.binaries.push_back(a);
    }
  }
  if (o.binaries.empty()) {
    return absl::InvalidArgumentError("usage: ktstr-client test BINARY... [-E FILTER] "
                                      "[--kernel K] [--topology N,L,C,T] [--json] [--junit FILE]");
  }
  return o;
}

absl::StatusOr<ktstr::v1::TestList> ListTests(const std::string& binary) {
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(binary, ": not found or not executable"));
  }
  int code = 0;
  absl::StatusOr<std::string> out = RunAndCapture({binary, "--ktstr-list"}, &code);
  ktstr::v1::TestList list;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (!out.ok() || code != 0 ||
      !google::protobuf::util::JsonStringToMessage(*out, &list, opts).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        binary, " is not a ktstr test binary (`", binary, " --ktstr-list` did not print a "
        "test list); link it with //guest_agent/testlib:ktstr_test and declare tests with "
        "KTSTR_TEST"));
  }
  return list;
}

std::string Basename(const std::string& p) { return p.substr(p.rfind('/') + 1); }

struct Uploaded {
  ktstr::v1::ArtifactRef binary;
  std::vector<ktstr::v1::GuestFile> support;
};

// Uploads `binary` and (when dynamic) every library of its closure, at their host paths.
absl::StatusOr<Uploaded> UploadWithClosure(
    ktstr::v1::Ktstrd::Stub* stub, const std::string& binary,
    ktstr::v1::ArtifactKind kind = ktstr::v1::ARTIFACT_KIND_TEST_BINARY) {
  Uploaded u;
  absl::StatusOr<UploadResult> b = UploadFile(stub, binary, kind);
  if (!b.ok()) return b.status();
  u.binary = b->ref;
  absl::StatusOr<std::vector<ktstr::v1::GuestFile>> libs = UploadSharedLibraries(stub, binary);
  if (!libs.ok()) return libs.status();
  u.support = *std::move(libs);
  return u;
}

// Streams a run's events; returns the run id and whether RunFinished arrived.
struct StreamState {
  std::string run_id;
  bool finished = false;
  ktstr::v1::Run summary;
};

void Consume(grpc::ClientReader<ktstr::v1::RunEvent>* reader, const TestOptions& o,
             const std::map<uint32_t, std::string>& binary_of, StreamState* st) {
  ktstr::v1::RunEvent ev;
  while (reader->Read(&ev)) {
    st->run_id = ev.run_id();
    if (ev.has_accepted() && !o.json) {
      fprintf(stderr, "[ktstr-client] run %s: %u tests\n", ev.run_id().c_str(),
              ev.accepted().jobs());
    } else if (ev.has_vm_assigned() && o.verbose) {
      fprintf(stderr, "[ktstr-client] job %u: %s VM %s ready in %.2fs\n",
              ev.vm_assigned().job_index(), ev.vm_assigned().warm() ? "warm" : "cold",
              ev.vm_assigned().vm_id().c_str(), ev.vm_assigned().vm_ready_s());
    } else if (ev.has_output()) {
      fprintf(stderr, "  [%u] %s\n", ev.output().job_index(), ev.output().line().c_str());
    } else if (ev.has_finished() && !o.json) {
      const auto& job = ev.finished().job();
      fputs(FormatJobResult(job, binary_of.at(job.index())).c_str(), stdout);
      fflush(stdout);
    } else if (ev.has_run_finished()) {
      st->finished = true;
      st->summary = ev.run_finished().run();
    }
  }
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
  std::map<uint32_t, std::string> binary_of;
  std::map<std::string, Uploaded> schedulers;  // host path -> uploaded loader + closure
  const char* sched_path_env = getenv(config::kSchedulerPathEnv);
  for (const std::string& binary : o->binaries) {
    absl::StatusOr<ktstr::v1::TestList> list = ListTests(binary);
    if (!list.ok()) return Fail(list.status());
    absl::StatusOr<Uploaded> up;
    for (const ktstr::v1::ListedTest& t : list->tests()) {
      if (!o->filter.empty() && !absl::StrContains(t.name(), o->filter)) continue;
      if (!up.ok() || up->binary.sha256().empty()) {
        up = UploadWithClosure(conn->stub.get(), binary);
        if (!up.ok()) return Fail(up.status());
      }
      ktstr::v1::JobSpec* job = spec->add_jobs();
      *job->mutable_test_binary() = up->binary;
      for (const auto& f : up->support) *job->add_support_files() = f;
      job->set_test_name(t.name());
      ktstr::v1::Topology* topo = job->mutable_shape()->mutable_topology();
      topo->set_numa_nodes(std::max(1u, t.numa_nodes()));
      topo->set_llcs(std::max(1u, t.llcs()));
      topo->set_cores_per_llc(std::max(1u, t.cores()));
      topo->set_threads_per_core(std::max(1u, t.threads()));
      if (o->topology) *topo = *o->topology;
      job->mutable_shape()->set_memory_mb(t.memory_mb());
      job->set_duration_s(o->duration_s ? o->duration_s : t.duration_s());
      if (!o->kernel.empty()) {
        if (absl::ascii_isdigit(o->kernel[0])) job->mutable_kernel()->set_version(o->kernel);
        else job->mutable_kernel()->set_cache_key(o->kernel);
      }
      if (NeedsSchedulerBinary(t)) {
        absl::StatusOr<std::string> path = ResolveSchedulerBinary(
            binary, t.scheduler_def(), sched_path_env ? sched_path_env : "");
        if (!path.ok()) {
          return Fail(absl::Status(path.status().code(),
                                   absl::StrCat(Basename(binary), " ktstr/", t.name(), ": ",
                                                path.status().message())));
        }
        auto it = schedulers.find(*path);
        if (it == schedulers.end()) {
          absl::StatusOr<Uploaded> s =
              UploadWithClosure(conn->stub.get(), *path, ktstr::v1::ARTIFACT_KIND_SCHEDULER_BINARY);
          if (!s.ok()) return Fail(s.status());
          it = schedulers.emplace(*path, *std::move(s)).first;
        }
        ktstr::v1::SchedulerSpec* sched = job->mutable_scheduler();
        *sched = SchedulerSpecFor(t);
        *sched->mutable_binary() = it->second.binary;
        for (const auto& f : it->second.support) *sched->add_support_files() = f;
        if (t.scheduler_def().profiles_size() > 0) {
          for (const std::string& f : t.scheduler_def().profiles(0).flags()) job->add_flags(f);
        }
      }
      for (const auto& [k, val] : o->labels) (*job->mutable_labels())[k] = val;
      (*job->mutable_labels())["binary"] = Basename(binary);
      binary_of[spec->jobs_size() - 1] = Basename(binary);
    }
  }
  if (spec->jobs_size() == 0) {
    fprintf(stderr, "ktstr-client: no test matches%s\n",
            o->filter.empty() ? "" : absl::StrCat(" -E ", o->filter).c_str());
    return kExitUsage;
  }
  req.set_stream_output(o->verbose);
  StreamState st;
  {
    grpc::ClientContext ctx;  // no deadline: a run lasts as long as its tests
    auto reader = conn->stub->SubmitRun(&ctx, req);
    Consume(reader.get(), *o, binary_of, &st);
    grpc::Status s = reader->Finish();
    if (!s.ok() && st.run_id.empty()) return Fail(FromGrpc(s));
  }
  for (int attempt = 0; !st.finished && attempt < 3; ++attempt) {
    fprintf(stderr, "[ktstr-client] stream broke; re-attaching to run %s\n", st.run_id.c_str());
    grpc::ClientContext ctx;
    ktstr::v1::WatchRunRequest w;
    w.set_run_id(st.run_id);
    auto reader = conn->stub->WatchRun(&ctx, w);
    StreamState again;
    Consume(reader.get(), *o, binary_of, &again);  // replays finished jobs too
    (void)reader->Finish();
    st.finished = again.finished;
    st.summary = again.summary;
  }
  if (!st.finished) return Fail(absl::UnavailableError("lost the daemon before the run finished"));
  ktstr::v1::GetRunRequest gr;
  gr.set_run_id(st.run_id);
  ktstr::v1::GetRunResponse run;
  if (absl::Status s = FromGrpc(conn->stub->GetRun(ContextWithDeadline().get(), gr, &run));
      !s.ok()) {
    return Fail(s);
  }
  if (o->json) {
    std::string json;
    google::protobuf::util::JsonPrintOptions jo;
    jo.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(run.run(), &json, jo);
    fputs(json.c_str(), stdout);
  } else {
    fputs(FormatSummary(run.run(), absl::ToDoubleSeconds(absl::Now() - t0)).c_str(), stdout);
  }
  if (!o->junit.empty()) {
    std::ofstream(o->junit) << JunitXml(run.run(), Basename(o->binaries[0]));
  }
  // Skips are not failures (nextest convention); anything else that is not PASS is.
  bool all_ok = run.run().jobs_failed() == 0;
  return all_ok ? kExitOk : kExitTestsFailed;
}

}  // namespace ktstr::client
