#include "client/run_session.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "client/exit_codes.h"
#include "client/junit.h"
#include "client/printer.h"

namespace ktstr::client {
namespace config {
// Re-attachments (WatchRun) after the event stream breaks before the run finished.
inline constexpr int kReattachAttempts = 3;
}  // namespace config

namespace {

struct StreamState {
  std::string run_id;
  bool finished = false;
};

void Consume(grpc::ClientReader<ktstr::v1::RunEvent>* reader, const RunOutputOptions& o,
             StreamState* st) {
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
      const bool sched = ev.output().stream() == ktstr::v1::JobOutput::STREAM_SCHEDULER;
      fprintf(stderr, "  [%u%s] %s\n", ev.output().job_index(), sched ? " sched" : "",
              ev.output().line().c_str());
    } else if (ev.has_finished() && !o.json) {
      const ktstr::v1::Job& job = ev.finished().job();
      auto binary = job.spec().labels().find("binary");
      fputs(FormatJobResult(job, binary == job.spec().labels().end() ? "" : binary->second)
                .c_str(),
            stdout);
      fflush(stdout);
    } else if (ev.has_run_finished()) {
      st->finished = true;
    }
  }
}

}  // namespace

bool ParseSharedRunOption(ArgReader& r, SharedRunOptions* o, absl::Status* status) {
  const std::string& a = r.arg();
  std::string v;
  if (r.Option("-E", &v) || r.Option("--filter", &v)) {
    o->filter = v;
  } else if (r.Option("--duration", &v)) {
    if (r.status().ok() && !absl::SimpleAtoi(v, &o->duration_s)) {
      *status = absl::InvalidArgumentError("--duration takes whole seconds");
    }
  } else if (r.Option("--label", &v)) {
    const size_t eq = v.find('=');
    if (r.status().ok() && (eq == std::string::npos || eq == 0)) {
      *status = absl::InvalidArgumentError("--label takes KEY=VALUE");
    } else if (eq != std::string::npos) {
      o->labels[v.substr(0, eq)] = v.substr(eq + 1);
    }
  } else if (r.Option("--junit", &v)) {
    o->output.junit = v;
  } else if (a == "--json") {
    o->output.json = true;
  } else if (a == "-v" || a == "--verbose") {
    o->output.verbose = true;
  } else {
    return false;
  }
  return true;
}

absl::StatusOr<ktstr::v1::Run> SubmitAndFollow(Connection& conn, ktstr::v1::SubmitRunRequest req,
                                               const RunOutputOptions& o) {
  req.set_stream_output(o.verbose);
  StreamState st;
  {
    grpc::ClientContext ctx;  // no deadline: a run lasts as long as its tests
    auto reader = conn.stub->SubmitRun(&ctx, req);
    Consume(reader.get(), o, &st);
    grpc::Status s = reader->Finish();
    if (!s.ok() && st.run_id.empty()) return FromGrpc(s);
  }
  for (int attempt = 0; !st.finished && attempt < config::kReattachAttempts; ++attempt) {
    fprintf(stderr, "[ktstr-client] stream broke; re-attaching to run %s\n", st.run_id.c_str());
    grpc::ClientContext ctx;
    ktstr::v1::WatchRunRequest w;
    w.set_run_id(st.run_id);
    auto reader = conn.stub->WatchRun(&ctx, w);
    StreamState again;
    Consume(reader.get(), o, &again);  // replays finished jobs too
    (void)reader->Finish();
    st.finished = again.finished;
  }
  if (!st.finished) return absl::UnavailableError("lost the daemon before the run finished");
  ktstr::v1::GetRunRequest gr;
  gr.set_run_id(st.run_id);
  ktstr::v1::GetRunResponse run;
  if (absl::Status s = FromGrpc(conn.stub->GetRun(ContextWithDeadline().get(), gr, &run));
      !s.ok()) {
    return s;
  }
  return run.run();
}

int FinishRun(const ktstr::v1::Run& run, const RunOutputOptions& o, double wall_s,
              const std::string& suite_name, const std::string& before_summary) {
  if (o.json) {
    std::string json;
    google::protobuf::util::JsonPrintOptions jo;
    jo.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(run, &json, jo);
    fputs(json.c_str(), stdout);
  } else {
    fputs(before_summary.c_str(), stdout);
    fputs(FormatSummary(run, wall_s).c_str(), stdout);
  }
  if (!o.junit.empty()) std::ofstream(o.junit) << JunitXml(run, suite_name);
  return run.jobs_failed() == 0 ? kExitOk : kExitTestsFailed;
}

}  // namespace ktstr::client
