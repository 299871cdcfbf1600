// Test double for the kernel log: lines appended to a plain file by anyone (e.g. a fake loader
// process in a test) are read as kernel messages, in order. Each line is one message.
#ifndef KTSTR_GUEST_AGENT_SCHED_TESTING_FILE_KERNEL_LOG_H_
#define KTSTR_GUEST_AGENT_SCHED_TESTING_FILE_KERNEL_LOG_H_

#include <fstream>
#include <string>
#include <vector>

#include "guest_agent/sched/kernel_log.h"

namespace ktstr::agent::testing {

class FileKernelLog : public KernelLogSource {
 public:
  explicit FileKernelLog(std::string path) : path_(std::move(path)) {}

  std::vector<std::string> ReadNew() override {
    std::vector<std::string> out;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return out;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string line;
    // Only whole lines: a writer may be in the middle of one.
    while (std::getline(in, line) && !in.eof()) {
      offset_ += line.size() + 1;
      out.push_back(line);
    }
    return out;
  }

 private:
  std::string path_;
  size_t offset_ = 0;
};

}  // namespace ktstr::agent::testing

#endif  // KTSTR_GUEST_AGENT_SCHED_TESTING_FILE_KERNEL_LOG_H_
