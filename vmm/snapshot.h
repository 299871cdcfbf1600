// Warm-pool engine: snapshot a booted, idle VM and start any number of clones from it.
//
// Guest RAM lives in one memory-backend-file per NUMA node on tmpfs (/dev/shm), mapped
// share=on by the template. Take() stops the template, enables x-ignore-shared and migrates
// only device state (~0.4 MB) to a file; the RAM stays in the shared files. A clone maps the
// same files share=off (MAP_PRIVATE: copy-on-write, the files never change), starts with
// -incoming defer, loads the device state and continues. Measured on this machine: restore
// to a live agent in ~0.25 s vs 3-4 s cold boot, ~26 MB of host RAM per idle clone.
//
// After restore the guest's CLOCK_REALTIME lags by the snapshot's age (monotonic time does
// not jump): the caller must set it (agent Hello{host_time_unix_ns} / SetTime);
// Vm::snapshot_taken_at() says by how much.
#ifndef KTSTR_VMM_SNAPSHOT_H_
#define KTSTR_VMM_SNAPSHOT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vmm/qemu_vm.h"
#include "vmm/vm.h"
#include "vmm/vm_spec.h"

namespace ktstr::vmm {

namespace config {
// Saving device state takes ~0.05 s; loading it ~0.2 s. Generous for a loaded host.
inline constexpr absl::Duration kMigrationTimeout = absl::Seconds(60);
}  // namespace config

class Snapshot final : public VmTemplate {
 public:
  // Consumes a ready VM (the template): stop, migrate device state, kill. The template's RAM
  // files and the state file then belong to the snapshot.
  static absl::StatusOr<std::unique_ptr<Snapshot>> Take(std::unique_ptr<QemuVm> vm);
  // Deletes the RAM and state files. Running clones keep working: their private mappings
  // survive the unlink.
  ~Snapshot() override;
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Starts a clone with its own QMP/channel sockets and console, running when this returns.
  // Thread-safe (clones share nothing but the read-only files).
  absl::StatusOr<std::unique_ptr<Vm>> StartClone() const override { return StartQemuClone(); }
  absl::StatusOr<std::unique_ptr<QemuVm>> StartQemuClone() const;

  const VmSpec& spec() const override { return spec_; }
  absl::Time taken_at() const override { return taken_at_; }
  const std::vector<std::string>& ram_files() const { return ram_files_; }
  const std::string& state_file() const { return state_file_; }

 private:
  Snapshot() = default;

  VmSpec spec_;
  absl::Time taken_at_;
  std::vector<std::string> ram_files_;
  std::string state_file_;
};

}  // namespace ktstr::vmm

#endif  // KTSTR_VMM_SNAPSHOT_H_
