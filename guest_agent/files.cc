#include "guest_agent/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "guest_agent/wire.h"

namespace ktstr::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status MakeParentDirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", dir);
  }
  return absl::OkStatus();
}

FileReceiver::~FileReceiver() {
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  for (uint64_t id : ids) Drop(id);
}

void FileReceiver::Drop(uint64_t request_id) {
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  ::unlink(it->second.part_path.c_str());
  pending_.erase(it);
}

absl::StatusOr<std::optional<v1::PutFileDone>> FileReceiver::Apply(uint64_t request_id,
                                                                   const v1::PutFile& chunk) {
  auto it = pending_.find(request_id);
  if (chunk.offset() == 0) {
    if (it != pending_.end()) Drop(request_id);  // a restart of the same request
    if (pending_.size() >= config::kMaxOpenPuts)
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", config::kMaxOpenPuts, " files being received"));
    Pending p;
    p.path = chunk.path();
    p.part_path = absl::StrCat(chunk.path(), ".ktstr-part");
    p.mode = chunk.mode() == 0 ? 0644 : chunk.mode();
    if (absl::Status s = MakeParentDirs(p.path); !s.ok()) return s;
    p.fd = ::open(p.part_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (p.fd < 0) return Errno("open", p.part_path);
    it = pending_.emplace(request_id, std::move(p)).first;
  } else if (it == pending_.end()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("put_file chunk at offset %d without a first chunk", chunk.offset()));
  } else if (chunk.offset() != it->second.size || chunk.path() != it->second.path) {
    std::string msg = absl::StrFormat("put_file chunk out of order: offset %d, expected %d",
                                      chunk.offset(), it->second.size);
    Drop(request_id);
    return absl::InvalidArgumentError(msg);
  }
  Pending& p = it->second;
  const std::string& data = chunk.data();
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(p.fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      absl::Status s = Errno("write", p.part_path);
      Drop(request_id);
      return s;
    }
    done += static_cast<size_t>(w);
  }
  p.size += data.size();
  p.crc = Crc32c(data, p.crc);
  if (!chunk.last()) return std::optional<v1::PutFileDone>();

  if (p.size != chunk.total_size() || p.crc != chunk.crc32c()) {
    std::string msg = absl::StrFormat(
        "put_file %s: got %d bytes crc32c %08x, host sent %d bytes crc32c %08x", p.path, p.size,
        p.crc, chunk.total_size(), chunk.crc32c());
    Drop(request_id);
    return absl::DataLossError(msg);
  }
  if (::fchmod(p.fd, p.mode) != 0 || ::close(p.fd) != 0) {
    p.fd = -1;
    absl::Status s = Errno("close", p.part_path);
    Drop(request_id);
    return s;
  }
  p.fd = -1;
  if (::rename(p.part_path.c_str(), p.path.c_str()) != 0) {
    absl::Status s = Errno("rename to", p.path);
    Drop(request_id);
    return s;
  }
  v1::PutFileDone out;
  out.set_path(p.path);
  out.set_size(p.size);
  pending_.erase(request_id);
  return std::optional<v1::PutFileDone>(out);
}

}  // namespace ktstr::agent
