// Library-closure resolution on real system binaries of this host.
#include "guest_agent/elf_closure.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

bool HasGuestPath(const std::vector<ClosureFile>& files, const std::string& suffix) {
  return std::any_of(files.begin(), files.end(),
                     [&](const ClosureFile& f) { return absl::EndsWith(f.guest_path, suffix); });
}

TEST(ElfInfoTest, ReadsInterpreterAndNeeded) {
  auto info = ReadElfInfo("/usr/bin/stress-ng");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->interpreter, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_NE(std::find(info->needed.begin(), info->needed.end(), "libc.so.6"), info->needed.end());
}

TEST(ElfInfoTest, NonElfAndMissingAreClearErrors) {
  auto text = ReadElfInfo("/etc/passwd");
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(text.status()));
  EXPECT_NE(text.status().message().find("not an ELF"), absl::string_view::npos);
  EXPECT_TRUE(absl::IsNotFound(ReadElfInfo("/nonexistent/binary").status()));
}

TEST(LdSoCacheTest, KnowsLibc) {
  auto cache = ReadLdSoCache();
  ASSERT_TRUE(cache.ok()) << cache.status();
  ASSERT_TRUE(cache->contains("libc.so.6"));
  EXPECT_TRUE(absl::EndsWith(cache->at("libc.so.6"), "/libc.so.6"));
}

TEST(ElfClosureTest, StressNgNeedsItsWholeTree) {
  auto files = ElfClosure({"/usr/bin/stress-ng"});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(HasGuestPath(*files, "/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(HasGuestPath(*files, "/libc.so.6"));
  EXPECT_TRUE(HasGuestPath(*files, "/libm.so.6"));
  // Every direct and indirect DT_NEEDED is present: walk each packed library again.
  for (const ClosureFile& f : *files) {
    auto info = ReadElfInfo(f.host_path);
    ASSERT_TRUE(info.ok()) << f.host_path;
    for (const std::string& n : info->needed) EXPECT_TRUE(HasGuestPath(*files, "/" + n)) << n;
  }
  // No duplicates.
  std::vector<std::string> guests;
  for (const auto& f : *files) guests.push_back(f.guest_path);
  std::sort(guests.begin(), guests.end());
  EXPECT_EQ(std::adjacent_find(guests.begin(), guests.end()), guests.end());
}

TEST(ElfClosureTest, StaticBinaryNeedsNothing) {
  auto files = ElfClosure({"/bin/busybox"});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(files->empty());
}

TEST(ElfClosureTest, MissingLibraryNamesItAndTheBinary) {
  ElfClosureOptions opts;
  opts.ld_so_cache = "/nonexistent/ld.so.cache";
  opts.default_dirs = {"/nonexistent/lib"};
  auto files = ElfClosure({"/bin/ls"}, opts);
  ASSERT_FALSE(files.ok());
  EXPECT_TRUE(absl::IsNotFound(files.status()));
  EXPECT_NE(files.status().message().find("needed by /bin/ls"), absl::string_view::npos)
      << files.status();
}

TEST(ElfClosureTest, NonElfInputIsRejected) {
  auto files = ElfClosure({"/etc/hostname"});
  ASSERT_FALSE(files.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(files.status()));
}

}  // namespace
}  // namespace ktstr::agent
