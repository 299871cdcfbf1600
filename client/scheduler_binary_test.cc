// The scheduler-binary rule on real files in a temp dir, and the JobSpec.scheduler a listed
// test becomes.
#include "client/scheduler_binary.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ktstr::client {
namespace {

std::string Tmp() { return std::string(getenv("TEST_TMPDIR")); }

void MakeExecutable(const std::string& path) {
  std::ofstream(path) << "#!/bin/sh\n";
  ASSERT_EQ(chmod(path.c_str(), 0755), 0) << path;
}

ktstr::v1::ListedSchedulerDef Discover(const std::string& name) {
  ktstr::v1::ListedSchedulerDef d;
  d.set_name(name);
  d.set_binary_kind("discover");
  d.set_binary(name);
  return d;
}

TEST(ResolveSchedulerBinary, DiscoverSearchesEnvThenBinaryDirThenSchedulersSubdir) {
  const std::string root = Tmp() + "/disc";
  mkdir(root.c_str(), 0755);
  mkdir((root + "/bin").c_str(), 0755);
  mkdir((root + "/bin/schedulers").c_str(), 0755);
  mkdir((root + "/extra").c_str(), 0755);
  const std::string test_bin = root + "/bin/tests";
  MakeExecutable(test_bin);

  auto missing = ResolveSchedulerBinary(test_bin, Discover("scx_a"), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), root + "/bin/schedulers"))
      << missing.status();

  MakeExecutable(root + "/bin/schedulers/scx_a");
  EXPECT_EQ(*ResolveSchedulerBinary(test_bin, Discover("scx_a"), ""),
            root + "/bin/schedulers/scx_a");
  MakeExecutable(root + "/bin/scx_a");
  EXPECT_EQ(*ResolveSchedulerBinary(test_bin, Discover("scx_a"), ""), root + "/bin/scx_a");
  MakeExecutable(root + "/extra/scx_a");
  EXPECT_EQ(*ResolveSchedulerBinary(test_bin, Discover("scx_a"), "/nonexistent:" + root + "/extra"),
            root + "/extra/scx_a");

  // A file that is not executable does not count.
  std::ofstream(root + "/bin/scx_b") << "data";
  EXPECT_FALSE(ResolveSchedulerBinary(test_bin, Discover("scx_b"), "").ok());
  // A name with a slash is a Path, not a Discover name.
  EXPECT_EQ(ResolveSchedulerBinary(test_bin, Discover("a/b"), "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveSchedulerBinary, PathIsRelativeToTheTestBinary) {
  const std::string root = Tmp() + "/path";
  mkdir(root.c_str(), 0755);
  MakeExecutable(root + "/loader");
  ktstr::v1::ListedSchedulerDef d;
  d.set_name("x");
  d.set_binary_kind("path");
  d.set_binary("loader");
  EXPECT_EQ(*ResolveSchedulerBinary(root + "/tests", d, ""), root + "/loader");
  d.set_binary(root + "/loader");
  EXPECT_EQ(*ResolveSchedulerBinary("/elsewhere/tests", d, ""), root + "/loader");
  d.set_binary("nope");
  EXPECT_EQ(ResolveSchedulerBinary(root + "/tests", d, "").status().code(),
            absl::StatusCode::kNotFound);
  d.set_binary_kind("kernel_builtin");
  EXPECT_EQ(ResolveSchedulerBinary(root + "/tests", d, "").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(SchedulerSpecFor, TakesTheDefaultProfileArgvSysctlsAndKargs) {
  ktstr::v1::ListedTest t;
  t.set_name("t");
  *t.mutable_scheduler_def() = Discover("scx_fifo");
  EXPECT_TRUE(NeedsSchedulerBinary(t));
  auto* d = t.mutable_scheduler_def();
  d->add_sched_args("--a");
  auto* p = d->add_profiles();
  p->set_name("default");
  p->add_args("--a");
  p->add_args("--extra");
  d->add_profiles()->add_args("--a --llc");
  auto* sc = d->add_sysctls();
  sc->set_key("kernel.x");
  sc->set_value("1");
  d->add_kargs("nosmt");
  ktstr::v1::SchedulerSpec s = SchedulerSpecFor(t);
  EXPECT_EQ(s.name(), "scx_fifo");
  ASSERT_EQ(s.args_size(), 2);
  EXPECT_EQ(s.args(1), "--extra");
  EXPECT_EQ(s.sysctls(0).key(), "kernel.x");
  EXPECT_EQ(s.kernel_args(0), "nosmt");
  EXPECT_EQ(s.expected_ops_name(), "scx_fifo");

  ktstr::v1::ListedTest eevdf;
  EXPECT_FALSE(NeedsSchedulerBinary(eevdf));
}

}  // namespace
}  // namespace ktstr::client
