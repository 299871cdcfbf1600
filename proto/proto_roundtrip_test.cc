// Proves the generated C++ for both protocols builds and round-trips, and that the public
// service works over a real gRPC unix socket.
#include <unistd.h>

#include <memory>
#include <string>

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "proto/ktstr/agent/v1/agent.pb.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace {

using google::protobuf::util::MessageDifferencer;

template <typename T>
T RoundTrip(const T& in) {
  std::string bytes;
  EXPECT_TRUE(in.SerializeToString(&bytes));
  T out;
  EXPECT_TRUE(out.ParseFromString(bytes));
  return out;
}

TEST(ProtoRoundTrip, RunSpecKeepsEveryJobField) {
  ktstr::v1::RunSpec spec;
  spec.set_description("ktstr-client test bazel-bin/scheduler_tests/basic_test");
  (*spec.mutable_labels())["project_commit"] = "abc1234-dirty";
  auto* job = spec.add_jobs();
  job->mutable_test_binary()->set_sha256(std::string(64, 'a'));
  job->mutable_test_binary()->set_size_bytes(123456);
  job->set_test_name("two_groups");
  auto* topo = job->mutable_shape()->mutable_topology();
  topo->set_numa_nodes(1);
  topo->set_llcs(2);
  topo->set_cores_per_llc(4);
  topo->set_threads_per_core(1);
  job->mutable_kernel()->set_version("7.3");
  job->mutable_scheduler()->set_name("scx_fifo");
  job->mutable_scheduler()->add_args("--stall-after=100");
  job->add_flags("llc");
  job->set_duration_s(2);

  ktstr::v1::RunSpec back = RoundTrip(spec);
  EXPECT_TRUE(MessageDifferencer::Equals(spec, back));
  EXPECT_EQ(back.jobs(0).shape().topology().llcs(), 2u);
  EXPECT_EQ(back.jobs(0).kernel().ref_case(), ktstr::v1::KernelRef::kVersion);
}

TEST(ProtoRoundTrip, RunEventOneofSurvives) {
  ktstr::v1::RunEvent ev;
  ev.set_run_id("20261125T090000Z-0001");
  auto* fin = ev.mutable_finished();
  fin->set_job_index(3);
  auto* verdict = fin->mutable_job()->mutable_verdict();
  verdict->set_kind(ktstr::v1::VERDICT_KIND_SCHED_EJECTED);
  verdict->set_reason("scheduler ejected: runnable task stall");
  verdict->mutable_scheduler()->set_exit_kind(ktstr::v1::SCHED_EXIT_KIND_STALL);
  auto* cg = verdict->mutable_report()->mutable_stats()->add_cgroups();
  cg->set_name("cg_0");
  cg->set_spread_pct(12.5);

  ktstr::v1::RunEvent back = RoundTrip(ev);
  ASSERT_EQ(back.event_case(), ktstr::v1::RunEvent::kFinished);
  EXPECT_TRUE(MessageDifferencer::Equals(ev, back));
  EXPECT_DOUBLE_EQ(back.finished().job().verdict().report().stats().cgroups(0).spread_pct(), 12.5);
}

TEST(ProtoRoundTrip, AgentMessagesBothDirections) {
  ktstr::agent::v1::HostToGuest req;
  req.set_request_id(7);
  auto* put = req.mutable_put_file();
  put->set_path("/bin/test");
  put->set_data(std::string("\x7f" "ELF\0\1", 6));
  put->set_last(true);
  put->set_crc32c(0xdeadbeef);
  EXPECT_TRUE(MessageDifferencer::Equals(req, RoundTrip(req)));

  ktstr::agent::v1::GuestToHost reply;
  reply.set_request_id(7);
  auto* tr = reply.mutable_test_result();
  tr->mutable_report()->set_outcome(ktstr::v1::TEST_OUTCOME_FAIL);
  auto* d = tr->mutable_report()->add_details();
  d->set_kind(ktstr::v1::DETAIL_KIND_STUCK);
  d->set_message("stuck 3500ms on cpu1 at +1200ms");
  tr->mutable_scheduler()->set_state(ktstr::agent::v1::SCHEDULER_STATE_EJECTED);
  ktstr::agent::v1::GuestToHost back = RoundTrip(reply);
  EXPECT_TRUE(MessageDifferencer::Equals(reply, back));
  EXPECT_EQ(back.msg_case(), ktstr::agent::v1::GuestToHost::kTestResult);
}

TEST(ProtoRoundTrip, UnknownFieldsFromANewerPeerAreKept) {
  // A newer daemon may add fields; an older agent must parse and re-serialize them intact.
  ktstr::agent::v1::Hello hello;
  hello.set_host_time_unix_ns(42);
  std::string bytes = hello.SerializeAsString();
  bytes += std::string("\xf8\x06\x01", 3);  // field 111, varint 1: unknown to this schema
  ktstr::agent::v1::Hello parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.host_time_unix_ns(), 42);
  EXPECT_EQ(parsed.SerializeAsString(), bytes);
}

TEST(ProtoRoundTrip, ServiceDeclaresTheWholeApi) {
  const auto* svc = ktstr::v1::Ktstrd::service_full_name();
  EXPECT_STREQ(svc, "ktstr.v1.Ktstrd");
  const auto* desc = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(svc);
  ASSERT_NE(desc, nullptr);
  for (const char* m : {"UploadArtifact", "StatArtifact", "SubmitRun", "WatchRun", "CancelRun",
                        "GetRun", "ListRuns", "CompareRuns", "ListKernels", "ImportKernel",
                        "RemoveKernel", "CleanKernels", "GetPoolStatus", "SetPoolTarget", "Shell",
                        "GetDaemonStatus", "StopDaemon"}) {
    EXPECT_NE(desc->FindMethodByName(m), nullptr) << m;
  }
  EXPECT_TRUE(desc->FindMethodByName("SubmitRun")->server_streaming());
  EXPECT_TRUE(desc->FindMethodByName("UploadArtifact")->client_streaming());
  EXPECT_TRUE(desc->FindMethodByName("Shell")->client_streaming());
  EXPECT_TRUE(desc->FindMethodByName("Shell")->server_streaming());
}

// A minimal service answering one unary and one streaming RPC, to prove the generated
// stubs work over a unix socket in this build (the real service lives in daemon/).
class TinyService final : public ktstr::v1::Ktstrd::CallbackService {
  grpc::ServerUnaryReactor* GetDaemonStatus(grpc::CallbackServerContext* ctx,
                                            const ktstr::v1::GetDaemonStatusRequest*,
                                            ktstr::v1::GetDaemonStatusResponse* resp) override {
    resp->set_pid(static_cast<uint32_t>(getpid()));
    resp->set_accelerator("tcg");
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

TEST(ProtoGrpc, UnaryCallOverUnixSocket) {
  // Short path: Bazel's TEST_TMPDIR exceeds sun_path's 107 bytes.
  std::string addr = "unix:/tmp/ktstr_proto_test_" + std::to_string(getpid()) + ".sock";
  TinyService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto stub = ktstr::v1::Ktstrd::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ktstr::v1::GetDaemonStatusResponse resp;
  grpc::Status st = stub->GetDaemonStatus(&ctx, {}, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.pid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(resp.accelerator(), "tcg");

  // An unimplemented method answers UNIMPLEMENTED, not a crash.
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ktstr::v1::ListRunsResponse runs;
  EXPECT_EQ(stub->ListRuns(&ctx2, {}, &runs).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  server->Shutdown();
  unlink(addr.substr(5).c_str());
}

}  // namespace
