// Test-only: a GauntletBinary from test entries written as `--ktstr-list` prints them.
#ifndef KTSTR_CLIENT_TESTING_LISTED_BINARY_H_
#define KTSTR_CLIENT_TESTING_LISTED_BINARY_H_

#include <google/protobuf/util/json_util.h>

#include <string>
#include <vector>

#include "client/gauntlet_plan.h"
#include "gtest/gtest.h"

namespace ktstr::client::testing {

// `tests`: JSON objects of the list's "tests" array (unknown fields ignored).
inline GauntletBinary ListedBinary(const std::string& path, const std::vector<std::string>& tests) {
  GauntletBinary b{path, {}};
  std::string json = "{\"tests\":[";
  for (size_t i = 0; i < tests.size(); ++i) json += (i ? "," : "") + tests[i];
  json += "]}";
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &b.list, o).ok()) << json;
  return b;
}

}  // namespace ktstr::client::testing

#endif  // KTSTR_CLIENT_TESTING_LISTED_BINARY_H_
