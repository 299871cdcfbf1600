// Walks a subcommand's arguments. Options take their value as "--name VALUE" or
// "--name=VALUE"; anything else is a flag or a positional argument the caller handles.
#ifndef KTSTR_CLIENT_ARG_READER_H_
#define KTSTR_CLIENT_ARG_READER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ktstr::client {

class ArgReader {
 public:
  explicit ArgReader(const std::vector<std::string>& args) : args_(args) {}

  // Moves to the next argument; false after the last one.
  bool Next() { return ++i_ < args_.size(); }
  const std::string& arg() const { return args_[i_]; }

  // True when the current argument is option `name`. Its value goes to *value; a missing
  // value records INVALID_ARGUMENT in status() (the first error is kept).
  bool Option(const char* name, std::string* value);

  absl::Status status() const { return status_; }

 private:
  const std::vector<std::string>& args_;
  size_t i_ = static_cast<size_t>(-1);
  absl::Status status_;
};

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_ARG_READER_H_
