#include "vmm/qemu_args.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace ktstr::vmm {
namespace {

VmSpec Spec(const Topology& t, int memory_mb) {
  VmSpec spec;
  spec.kernel_path = "/k/vmlinux";
  spec.initramfs_path = "/k/init.cpio.gz";
  spec.topology = t;
  spec.memory_mb = memory_mb;
  spec.extra_kernel_args = {"ktstr.extra=1"};
  return spec;
}

QemuInstance Instance(int nodes) {
  QemuInstance inst;
  inst.accel = Accel::kTcg;
  inst.qmp_socket = "/tmp/vm/qmp.sock";
  inst.channel_socket = "/tmp/vm/agent.sock";
  for (int n = 0; n < nodes; ++n) {
    inst.ram_files.push_back("/dev/shm/t-node" + std::to_string(n) + ".ram");
  }
  inst.tsc_khz = 2596146;
  return inst;
}

// The whole argv for numa2-4llc, one argument per line. To regenerate after a deliberate
// change: KTSTR_UPDATE_GOLDEN=$PWD/vmm/testdata/qemu_args_numa2-4llc.golden bazel-bin/...
TEST(QemuArgsTest, GoldenNuma2x4llc) {
  absl::StatusOr<std::vector<std::string>> argv =
      BuildQemuArgs(Spec(*FindPreset("numa2-4llc"), 2048), Instance(2));
  ASSERT_TRUE(argv.ok()) << argv.status();
  const std::string got = absl::StrJoin(*argv, "\n") + "\n";
  if (const char* update = getenv("KTSTR_UPDATE_GOLDEN")) {
    std::ofstream(update) << got;
  }
  std::ifstream in("vmm/testdata/qemu_args_numa2-4llc.golden");
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str());
}

bool Has(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

TEST(QemuArgsTest, SmtTopologyMapsLlcsToDies) {
  absl::StatusOr<std::vector<std::string>> argv =
      BuildQemuArgs(Spec(*FindPreset("smt-2llc"), 1024), Instance(1));
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_TRUE(Has(*argv, "-smp", "8,sockets=1,dies=2,cores=2,threads=2"));
  EXPECT_TRUE(Has(*argv, "-numa", "node,nodeid=0,cpus=0-7,memdev=ram0"));
  EXPECT_TRUE(Has(*argv, "-accel", "tcg,thread=single"));
  VmSpec multi = Spec(*FindPreset("smt-2llc"), 1024);
  multi.tcg_multi_thread = true;
  EXPECT_TRUE(Has(*BuildQemuArgs(multi, Instance(1)), "-accel", "tcg,thread=multi"));
  EXPECT_TRUE(Has(*argv, "-cpu", "qemu64,vendor=GenuineIntel,l3-cache=on"));
  EXPECT_TRUE(Has(*argv, "-object",
                  "memory-backend-file,id=ram0,size=1024M,mem-path=/dev/shm/t-node0.ram,share=on"));
}

TEST(QemuArgsTest, KvmUsesHostCpuAndClonesMapPrivately) {
  QemuInstance inst = Instance(1);
  inst.accel = Accel::kKvm;
  inst.share_ram = false;
  inst.incoming = true;
  absl::StatusOr<std::vector<std::string>> argv =
      BuildQemuArgs(Spec(*FindPreset("tiny-1llc"), 512), inst);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_TRUE(Has(*argv, "-accel", "kvm"));
  EXPECT_TRUE(Has(*argv, "-cpu", "host"));
  EXPECT_TRUE(Has(*argv, "-incoming", "defer"));
  EXPECT_TRUE(Has(*argv, "-object",
                  "memory-backend-file,id=ram0,size=512M,mem-path=/dev/shm/t-node0.ram,share=off"));
}

TEST(QemuArgsTest, ApicIdsAndTheTcgLimit) {
  EXPECT_EQ(MaxApicId(Topology{1, 1, 4, 1}), 3);
  EXPECT_EQ(MaxApicId(Topology{1, 2, 2, 2}), 7);
  EXPECT_EQ(MaxApicId(Topology{4, 12, 8, 2}), 3 << 6 | 2 << 4 | 7 << 1 | 1);
  // max-cpu: 14 dies need 4 bits, 9 cores 4 bits, SMT 1 bit -> ids up to 433.
  EXPECT_GT(MaxApicId(*FindPreset("max-cpu")), 254);
  absl::StatusOr<std::vector<std::string>> tcg =
      BuildQemuArgs(Spec(*FindPreset("max-cpu"), 4096), Instance(1));
  EXPECT_TRUE(absl::IsUnimplemented(tcg.status())) << tcg.status();
  QemuInstance kvm = Instance(1);
  kvm.accel = Accel::kKvm;
  absl::StatusOr<std::vector<std::string>> k =
      BuildQemuArgs(Spec(*FindPreset("max-cpu"), 4096), kvm);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_TRUE(Has(*k, "-device", "intel-iommu,intremap=on,eim=on"));
  EXPECT_TRUE(Has(*k, "-M", "q35,kernel-irqchip=split"));
}

TEST(QemuArgsTest, RejectsBadInput) {
  EXPECT_FALSE(BuildQemuArgs(Spec(Topology{1, 1, 1, 1}, 64), Instance(1)).ok());
  EXPECT_FALSE(BuildQemuArgs(Spec(Topology{2, 2, 1, 1}, 1024), Instance(1)).ok());  // 1 file
  EXPECT_FALSE(BuildQemuArgs(Spec(Topology{1, 0, 1, 1}, 1024), Instance(1)).ok());
}

TEST(QemuArgsTest, FixedKernelArgs) {
  std::vector<std::string> args = FixedKernelArgs(2596146);
  for (const char* want : {"console=ttyS0", "panic=-1", "mitigations=off", "quiet", "nokaslr",
                           "tsc=reliable", "tsc_early_khz=2596146"}) {
    EXPECT_NE(std::find(args.begin(), args.end(), want), args.end()) << want;
  }
  std::vector<std::string> no_tsc = FixedKernelArgs(0);
  for (const std::string& a : no_tsc) EXPECT_NE(a.rfind("tsc_early_khz", 0), 0u);
}

TEST(QemuArgsTest, HostTscIsPlausibleAndStable) {
  const long khz = HostTscKhz();
  EXPECT_GT(khz, 100'000);       // > 100 MHz
  EXPECT_LT(khz, 10'000'000);    // < 10 GHz
  EXPECT_EQ(HostTscKhz(), khz);  // measured once
}

TEST(AccelTest, ParseAndDetect) {
  EXPECT_EQ(*ParseAccel("tcg"), Accel::kTcg);
  EXPECT_EQ(*ParseAccel("kvm"), Accel::kKvm);
  EXPECT_EQ(*ParseAccel("auto"), Accel::kAuto);
  EXPECT_FALSE(ParseAccel("hvf").ok());
  AccelChoice c = DetectAccel();
  EXPECT_NE(c.accel, Accel::kAuto);
  EXPECT_FALSE(c.reason.empty());
  EXPECT_EQ(ResolveAccel(Accel::kTcg).accel, Accel::kTcg);
}

}  // namespace
}  // namespace ktstr::vmm
