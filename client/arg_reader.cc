#include "client/arg_reader.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ktstr::client {

bool ArgReader::Option(const char* name, std::string* value) {
  const std::string& a = arg();
  if (absl::StartsWith(a, name) && a.size() > strlen(name) && a[strlen(name)] == '=') {
    *value = a.substr(strlen(name) + 1);
    return true;
  }
  if (a != name) return false;
  if (i_ + 1 >= args_.size()) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    value->clear();
    return true;
  }
  *value = args_[++i_];
  return true;
}

}  // namespace ktstr::client
