#include "client/listed_tests.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/closure.h"

namespace ktstr::client {

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

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace ktstr::client
