// The cpio writer and initramfs builder, checked with Debian's cpio(1) as the reader.
#include "guest_agent/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "guest_agent/cpio.h"
#include "gtest/gtest.h"

namespace ktstr::agent {
namespace {

class InitramfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/initramfs_test");
    ASSERT_EQ(std::system(("rm -rf " + dir_ + " && mkdir -p " + dir_).c_str()), 0);
  }
  std::string Run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << cmd;
    return out;
  }
  void WriteFile(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  std::string dir_;
};

TEST_F(InitramfsTest, CpioReadsBackEveryEntryKind) {
  CpioWriter w;
  w.AddDirectory("/etc", 0755);
  w.AddFile("/usr/share/doc/hello.txt", "hello, guest\n", 0640);
  w.AddFile("odd", std::string("abc"), 0600);  // size not a multiple of 4: padding
  w.AddSymlink("bin/sh", "/bin/busybox");
  w.AddCharDevice("dev/console", 5, 1);
  const std::string archive = dir_ + "/a.cpio";
  WriteFile(archive, w.Finish());

  std::string listing = Run("cpio -itv --quiet < " + archive);
  EXPECT_NE(listing.find("usr/share/doc/hello.txt"), std::string::npos) << listing;
  EXPECT_NE(listing.find("bin/sh -> /bin/busybox"), std::string::npos) << listing;
  EXPECT_NE(listing.find("crw-------"), std::string::npos) << listing;
  EXPECT_NE(listing.find("5,"), std::string::npos) << listing;  // the console's major
  // Parents came before their children: "usr" is listed before "usr/share".
  EXPECT_LT(listing.find(" usr\n"), listing.find(" usr/share\n")) << listing;

  const std::string out = dir_ + "/x";
  ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
  Run("cd " + out + " && cpio -id --quiet usr/share/doc/hello.txt odd < " + archive);
  std::ifstream in(out + "/usr/share/doc/hello.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello, guest");
  struct stat st;
  ASSERT_EQ(::stat((out + "/odd").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(InitramfsTest, GzipRoundTripsAndRejectsGarbage) {
  std::string data(100000, 'k');
  auto gz = Gzip(data);
  ASSERT_TRUE(gz.ok());
  EXPECT_LT(gz->size(), data.size() / 10);
  auto back = Gunzip(*gz + *gz);  // two members, as base + extras
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, data + data);
  EXPECT_FALSE(Gunzip("definitely not gzip").ok());
}

TEST_F(InitramfsTest, BaseArchiveHasInitBusyboxAppletsAndConsole) {
  BaseArchiveSpec spec;
  spec.agent_path = "guest_agent/ktstr-agent";
  spec.cache_dir = dir_ + "/cache";
  auto path = CachedBaseArchive(spec);
  ASSERT_TRUE(path.ok()) << path.status();
  struct stat first;
  ASSERT_EQ(::stat(path->c_str(), &first), 0);
  // The second call finds the cached file and does not rewrite it.
  auto again = CachedBaseArchive(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *path);
  struct stat second;
  ASSERT_EQ(::stat(again->c_str(), &second), 0);
  EXPECT_EQ(first.st_ino, second.st_ino);
  EXPECT_EQ(first.st_mtim.tv_nsec, second.st_mtim.tv_nsec);

  std::string listing = Run("zcat " + *path + " | cpio -itv --quiet");
  for (const char* want : {" init\n", " bin/busybox\n", "bin/sh -> /bin/busybox", "dev/console",
                           "usr/bin/awk -> /bin/busybox", " proc\n", " sys\n", " tmp\n"}) {
    EXPECT_NE(listing.find(want), std::string::npos) << want << "\n" << listing.substr(0, 2000);
  }
  EXPECT_EQ(listing.find("sbin/init"), std::string::npos) << "busybox init must not be linked";

  // Extras are a second gzip member after the base.
  const std::string extra_host = dir_ + "/payload.sh";
  WriteFile(extra_host, "#!/bin/sh\necho hi\n");
  ::chmod(extra_host.c_str(), 0755);
  const std::string initrd = dir_ + "/initrd.gz";
  ASSERT_TRUE(WriteInitramfs(*path, {{"/opt/ktstr/payload.sh", extra_host, "", 0},
                                     {"/etc/ktstr.conf", "", "x=1\n", 0600}},
                             initrd).ok());
  auto base_bytes = ReadWholeFile(*path);
  auto all = ReadWholeFile(initrd);
  ASSERT_TRUE(all.ok() && base_bytes.ok());
  ASSERT_EQ(all->compare(0, base_bytes->size(), *base_bytes), 0);
  const std::string extras = dir_ + "/extras.gz";
  WriteFile(extras, all->substr(base_bytes->size()));
  std::string ex_listing = Run("zcat " + extras + " | cpio -itv --quiet");
  EXPECT_NE(ex_listing.find("-rwxr-xr-x"), std::string::npos) << ex_listing;
  EXPECT_NE(ex_listing.find("opt/ktstr/payload.sh"), std::string::npos) << ex_listing;
  EXPECT_NE(ex_listing.find("-rw-------"), std::string::npos) << ex_listing;
}

TEST_F(InitramfsTest, MissingInputsAreClearErrors) {
  BaseArchiveSpec spec;
  spec.agent_path = "/nonexistent/ktstr-agent";
  spec.cache_dir = dir_ + "/cache";
  auto r = CachedBaseArchive(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/ktstr-agent"), absl::string_view::npos);
  EXPECT_FALSE(BuildExtrasArchive({{"relative/path", "", "x", 0}}).ok());
}

}  // namespace
}  // namespace ktstr::agent
