#include "guest_agent/cpio.h"

#include <sys/stat.h>
#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace ktstr::agent {
namespace {

std::string Normalize(absl::string_view path) {
  while (absl::ConsumePrefix(&path, "/")) {
  }
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  return std::string(path);
}

void Pad4(std::string& s) {
  while (s.size() % 4) s.push_back('\0');
}

}  // namespace

void CpioWriter::AddParents(const std::string& path) {
  for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string dir = path.substr(0, pos);
    if (dirs_.insert(dir).second) Entry(dir, S_IFDIR | 0755, "");
  }
}

void CpioWriter::Entry(const std::string& path, uint32_t mode, absl::string_view data,
                       uint32_t rmajor, uint32_t rminor) {
  const uint32_t nlink = S_ISDIR(mode) ? 2 : 1;
  // mtime 0: the archive depends only on its contents (reproducible, cacheable).
  absl::StrAppendFormat(&out_, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                        next_ino_++, mode, 0, 0, nlink, 0, data.size(), 0, 0, rmajor, rminor,
                        path.size() + 1, 0);
  out_.append(path);
  out_.push_back('\0');
  Pad4(out_);
  out_.append(data.data(), data.size());
  Pad4(out_);
}

void CpioWriter::AddDirectory(absl::string_view path, uint32_t mode) {
  std::string p = Normalize(path);
  if (p.empty()) return;
  AddParents(p);
  if (dirs_.insert(p).second) Entry(p, S_IFDIR | (mode & 07777), "");
}

void CpioWriter::AddFile(absl::string_view path, absl::string_view data, uint32_t mode) {
  std::string p = Normalize(path);
  AddParents(p);
  Entry(p, S_IFREG | (mode & 07777), data);
}

void CpioWriter::AddSymlink(absl::string_view path, absl::string_view target) {
  std::string p = Normalize(path);
  AddParents(p);
  Entry(p, S_IFLNK | 0777, target);
}

void CpioWriter::AddCharDevice(absl::string_view path, uint32_t major, uint32_t minor, uint32_t mode) {
  std::string p = Normalize(path);
  AddParents(p);
  Entry(p, S_IFCHR | (mode & 07777), "", major, minor);
}

std::string CpioWriter::Finish() {
  Entry("TRAILER!!!", 0, "");
  std::string out;
  out.swap(out_);
  dirs_.clear();
  next_ino_ = 1;
  return out;
}

absl::StatusOr<std::string> Gzip(absl::string_view data, int level) {
  z_stream zs = {};
  // windowBits 15 + 16 selects the gzip wrapper.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return absl::InternalError("deflateInit2 failed");
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError(absl::StrCat("deflate failed: ", rc));
  out.resize(n);
  return out;
}

absl::StatusOr<std::string> Gunzip(absl::string_view data) {
  z_stream zs = {};
  // 15 + 32: accept gzip or zlib headers; concatenated members are handled below.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // the next gzip member
      continue;
    }
    if (rc != Z_OK) {
      inflateEnd(&zs);
      return absl::DataLossError(absl::StrCat("not valid gzip data (zlib ", rc, ")"));
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace ktstr::agent
