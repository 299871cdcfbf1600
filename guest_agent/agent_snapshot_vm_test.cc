// The warm-pool path with the real agent: boot a template VM, snapshot it, start clones, and
// talk to each clone's agent over its own channel (vmm/snapshot.h). Clones must answer, get
// their clock set by Hello, and not see each other's files.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "guest_agent/agent_client.h"
#include "guest_agent/initramfs.h"
#include "gtest/gtest.h"
#include "vmm/snapshot.h"
#include "vmm/topology.h"
#include "vmm/qemu_vm.h"
#include "vmm/vm.h"

namespace ktstr::agent {
namespace {

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string KernelPath() {
  if (const char* c = std::getenv("KTSTR_CACHE_DIR")) return absl::StrCat(c, "/debian/default/vmlinux");
  return "/root/.cache/ktstr/debian/default/vmlinux";
}

std::string ExecOut(AgentClient& c, const std::string& script) {
  v1::Exec e;
  e.add_argv("/bin/sh");
  e.add_argv("-c");
  e.add_argv(script);
  std::string out;
  auto r = c.Exec(e, [&](v1::Output::Stream, absl::string_view d) { out.append(d.data(), d.size()); },
                  In(absl::Seconds(60)));
  EXPECT_TRUE(r.ok()) << r.status();
  return out;
}

TEST(AgentSnapshotVmTest, ClonesOfATemplateAnswerWithTheirOwnStateAndClock) {
  const std::string tmp = std::getenv("TEST_TMPDIR");
  BaseArchiveSpec base;
  base.agent_path = "guest_agent/ktstr-agent";
  base.cache_dir = tmp + "/cache";
  auto base_path = CachedBaseArchive(base);
  ASSERT_TRUE(base_path.ok()) << base_path.status();
  const std::string initrd = tmp + "/initrd.gz";
  ASSERT_TRUE(WriteInitramfs(*base_path, {}, initrd).ok());

  vmm::VmSpec spec;
  spec.kernel_path = KernelPath();
  spec.initramfs_path = initrd;
  spec.topology = *vmm::ParseTopology("1n1l2c1t");
  spec.memory_mb = 512;
  spec.boot_timeout = absl::Seconds(240);
  spec.lifetime = absl::Minutes(10);
  vmm::BootFailure failure;
  auto vm = vmm::QemuVm::Boot(spec, &failure);
  ASSERT_TRUE(vm.ok()) << vm.status() << "\n" << failure.console;
  {
    // The template is used once (as the pool would, to check it), then left idle.
    auto c = AgentClient::Connect((*vm)->channel_socket_path(), In(absl::Seconds(60)));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Hello(v1::Hello(), In(absl::Seconds(60))).ok());
  }
  auto snap = vmm::Snapshot::Take(std::move(*vm));
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::SleepFor(absl::Seconds(2));  // so a clone's clock would visibly lag without Hello

  auto clone_a = (*snap)->StartClone();
  ASSERT_TRUE(clone_a.ok()) << clone_a.status();
  auto clone_b = (*snap)->StartClone();
  ASSERT_TRUE(clone_b.ok()) << clone_b.status();
  absl::Time t0 = absl::Now();
  auto a = AgentClient::Connect((*clone_a)->channel_socket_path(), In(absl::Seconds(60)));
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << (*clone_a)->ConsoleText();
  std::printf("clone answered %.2f s after its start returned\n", absl::ToDoubleSeconds(absl::Now() - t0));
  auto b = AgentClient::Connect((*clone_b)->channel_socket_path(), In(absl::Seconds(60)));
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << (*clone_b)->ConsoleText();

  for (auto* c : {a->get(), b->get()}) {
    v1::Hello hello;
    const int64_t now = absl::ToUnixNanos(absl::Now());
    hello.set_host_time_unix_ns(now);
    auto r = c->Hello(hello, In(absl::Seconds(60)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(r->guest_time_unix_ns(), now);
    EXPECT_LT(r->guest_time_unix_ns() - now, absl::ToInt64Nanoseconds(absl::Seconds(30)));
    EXPECT_EQ(r->topology().cpus(), 2u);
  }
  // Copy-on-write: what one clone writes the other does not see.
  ASSERT_TRUE((*a)->PutBytes("only in a\n", "/tmp/mark", 0644, In(absl::Seconds(60))).ok());
  EXPECT_EQ(ExecOut(**a, "cat /tmp/mark"), "only in a\n");
  EXPECT_EQ(ExecOut(**b, "cat /tmp/mark 2>/dev/null || echo absent"), "absent\n");

  ASSERT_TRUE((*a)->Shutdown(false, In(absl::Seconds(60))).ok());
  EXPECT_TRUE((*clone_a)->WaitExited(absl::Seconds(120)));
  ASSERT_TRUE((*b)->Shutdown(false, In(absl::Seconds(60))).ok());
  EXPECT_TRUE((*clone_b)->WaitExited(absl::Seconds(120)));
}

}  // namespace
}  // namespace ktstr::agent
