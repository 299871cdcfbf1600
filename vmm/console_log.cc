#include "vmm/console_log.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ktstr::vmm {

absl::StatusOr<std::unique_ptr<ConsoleLog>> ConsoleLog::Create(const std::string& path,
                                                               size_t file_limit,
                                                               size_t ring_bytes) {
  FILE* file = nullptr;
  if (!path.empty()) {
    file = fopen(path.c_str(), "we");
    if (file == nullptr) {
      return absl::InternalError(absl::StrCat("console log ", path, ": ", strerror(errno)));
    }
  }
  return std::unique_ptr<ConsoleLog>(new ConsoleLog(path, file, file_limit, ring_bytes));
}

ConsoleLog::ConsoleLog(std::string path, FILE* file, size_t file_limit, size_t ring_bytes)
    : path_(std::move(path)), file_limit_(file_limit), ring_bytes_(ring_bytes), file_(file) {}

ConsoleLog::~ConsoleLog() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) fclose(file_);
}

void ConsoleLog::Append(absl::string_view data) {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr && file_written_ < file_limit_) {
    const size_t n = std::min(data.size(), file_limit_ - file_written_);
    fwrite(data.data(), 1, n, file_);
    file_written_ += n;
    if (file_written_ == file_limit_) {
      fputs("\n[ktstr: console log file limit reached; further output is in memory only]\n", file_);
    }
    fflush(file_);
  }
  for (char c : data) {
    if (ring_.size() < ring_bytes_) {
      ring_.push_back(c);
    } else {
      ring_[total_ % ring_bytes_] = c;
    }
    ++total_;
  }
}

uint64_t ConsoleLog::size() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

std::string ConsoleLog::Text() const { return Excerpt(0, UINT64_MAX); }

std::string ConsoleLog::Excerpt(uint64_t begin, uint64_t end) const {
  absl::MutexLock lock(&mu_);
  const uint64_t oldest = total_ > ring_bytes_ ? total_ - ring_bytes_ : 0;
  begin = std::max(begin, oldest);
  end = std::min(end, total_);
  std::string out;
  if (begin >= end) return out;
  out.reserve(end - begin);
  for (uint64_t i = begin; i < end; ++i) {
    out.push_back(total_ > ring_bytes_ ? ring_[i % ring_bytes_] : ring_[i]);
  }
  return out;
}

}  // namespace ktstr::vmm
