// JUnit XML for CI systems: one <testcase> per job, <failure> for non-PASS non-SKIP.
#ifndef KTSTR_CLIENT_JUNIT_H_
#define KTSTR_CLIENT_JUNIT_H_

#include <string>

#include "proto/ktstr/v1/run.pb.h"

namespace ktstr::client {

std::string JunitXml(const ktstr::v1::Run& run, const std::string& suite_name);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_JUNIT_H_
