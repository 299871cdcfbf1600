#include "vmm/snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace ktstr::vmm {
namespace {

constexpr char kIgnoreShared[] = "x-ignore-shared";

// Polls `probe` every few ms until it returns a value other than `while_value`.
absl::StatusOr<std::string> PollWhile(const std::function<absl::StatusOr<std::string>()>& probe,
                                      const std::vector<std::string>& while_values,
                                      absl::Time deadline, absl::string_view what) {
  while (true) {
    absl::StatusOr<std::string> v = probe();
    if (!v.ok()) return v.status();
    if (std::find(while_values.begin(), while_values.end(), *v) == while_values.end()) return v;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(what, " still \"", *v, "\" at deadline"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Snapshot>> Snapshot::Take(std::unique_ptr<QemuVm> vm) {
  if (vm == nullptr || vm->state() != VmState::kReady) {
    return absl::FailedPreconditionError("Snapshot::Take needs a ready VM");
  }
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + config::kMigrationTimeout;
  QmpClient& qmp = vm->qmp();
  if (absl::Status s = qmp.Stop(); !s.ok()) return s;
  vm->MarkPaused();
  const absl::Time taken_at = absl::Now();
  if (absl::Status s = qmp.SetMigrationCapability(kIgnoreShared, true); !s.ok()) return s;

  std::unique_ptr<Snapshot> snap(new Snapshot());
  snap->spec_ = vm->spec();
  snap->taken_at_ = taken_at;
  absl::string_view base = vm->ram_files().front();
  absl::ConsumeSuffix(&base, "-node0.ram");
  snap->state_file_ = absl::StrCat(base, ".state");
  // QEMU runs this through /bin/sh; the path is ours (no spaces or quotes).
  if (absl::Status s = qmp.Migrate(absl::StrCat("exec:cat > ", snap->state_file_)); !s.ok()) {
    unlink(snap->state_file_.c_str());
    return s;
  }
  absl::StatusOr<std::string> status =
      PollWhile([&] { return qmp.QueryMigrateStatus(); }, {"setup", "active", "device", "none"},
                deadline, "migration");
  if (!status.ok() || *status != "completed") {
    unlink(snap->state_file_.c_str());
    return status.ok() ? absl::InternalError(absl::StrCat("migration ended ", *status))
                       : status.status();
  }
  snap->ram_files_ = vm->ReleaseRamFiles();
  vm.reset();  // kills the template; its RAM files now belong to the snapshot
  spdlog::info("vmm: snapshot {} taken in {}", snap->state_file_,
               absl::FormatDuration(absl::Now() - start));
  return snap;
}

Snapshot::~Snapshot() {
  for (const std::string& f : ram_files_) unlink(f.c_str());
  unlink(state_file_.c_str());
}

absl::StatusOr<std::unique_ptr<QemuVm>> Snapshot::StartQemuClone() const {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<QemuVm>> vm =
      QemuVm::Launch(spec_, LaunchOptions{.clone_ram_files = ram_files_, .incoming = true});
  if (!vm.ok()) return vm.status();
  QmpClient& qmp = (*vm)->qmp();
  const absl::Time deadline = absl::Now() + config::kMigrationTimeout;
  if (absl::Status s = qmp.SetMigrationCapability(kIgnoreShared, true); !s.ok()) return s;
  if (absl::Status s = qmp.MigrateIncoming(absl::StrCat("exec:cat ", state_file_)); !s.ok()) {
    return s;
  }
  // The source was stopped, so a completed load leaves the clone "paused".
  absl::StatusOr<std::string> status =
      PollWhile([&] { return qmp.QueryStatus(); }, {"inmigrate"}, deadline, "incoming migration");
  if (!status.ok()) return status.status();
  if (*status != "paused") {
    return absl::InternalError(absl::StrCat("clone is \"", *status, "\" after loading ",
                                            state_file_, "\n", (*vm)->QemuStderr()));
  }
  if (absl::Status s = qmp.Cont(); !s.ok()) return s;
  (*vm)->MarkResumed();
  (*vm)->set_snapshot_taken_at(taken_at_);
  spdlog::info("vmm: clone pid {} running after {}", (*vm)->pid(),
               absl::FormatDuration(absl::Now() - start));
  return vm;
}

absl::StatusOr<std::unique_ptr<VmTemplate>> QemuLauncher::SaveTemplate(std::unique_ptr<Vm> vm) {
  auto* qemu = dynamic_cast<QemuVm*>(vm.get());
  if (qemu == nullptr) {
    return absl::InvalidArgumentError("QemuLauncher::SaveTemplate needs a VM it booted");
  }
  vm.release();
  absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Take(std::unique_ptr<QemuVm>(qemu));
  if (!snap.ok()) return snap.status();
  return std::unique_ptr<VmTemplate>(std::move(*snap));
}

}  // namespace ktstr::vmm
