// A ktstr test binary's own description of its tests (`BINARY --ktstr-list`).
#ifndef KTSTR_CLIENT_LISTED_TESTS_H_
#define KTSTR_CLIENT_LISTED_TESTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/test_list.pb.h"

namespace ktstr::client {

// Runs `binary --ktstr-list` and parses its JSON (unknown fields ignored). NOT_FOUND when the
// file is not executable, INVALID_ARGUMENT (saying how to make one) when it is not a ktstr
// test binary.
absl::StatusOr<ktstr::v1::TestList> ListTests(const std::string& binary);

// The last path component: "bazel-bin/x/example_tests" -> "example_tests".
std::string Basename(const std::string& path);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_LISTED_TESTS_H_
