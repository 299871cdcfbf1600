// AssertResult -> ktstr.v1.TestReport (the serialized result the harness writes to
// --ktstr-result-fd).
#ifndef KTSTR_GUEST_AGENT_TESTLIB_REPORT_H_
#define KTSTR_GUEST_AGENT_TESTLIB_REPORT_H_

#include <string>

#include "guest_agent/testlib/checks.h"
#include "proto/ktstr/v1/result.pb.h"

namespace ktstr {

v1::DetailKind ToProtoDetailKind(DetailKind k);
v1::ScenarioStats ToProtoStats(const ScenarioStats& s);
v1::WorkerSummary ToProtoWorker(const WorkerReport& w);
// `outcome` is decided by the caller (expect_err inverts pass/fail).
v1::TestReport ToTestReport(const std::string& test_name, const AssertResult& result,
                            v1::TestOutcome outcome, double duration_s,
                            const std::string& scheduler_name, const Assert& checks);

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_REPORT_H_
