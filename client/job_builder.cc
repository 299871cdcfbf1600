#include "client/job_builder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/listed_tests.h"
#include "client/scheduler_binary.h"
#include "client/upload.h"

namespace ktstr::client {

void SetKernel(const std::string& kernel, ktstr::v1::JobSpec* job) {
  if (kernel.empty()) return;
  if (absl::ascii_isdigit(kernel[0])) {
    job->mutable_kernel()->set_version(kernel);
  } else {
    job->mutable_kernel()->set_cache_key(kernel);
  }
}

absl::StatusOr<const JobBuilder::Uploaded*> JobBuilder::UploadWithClosure(
    const std::string& path, ktstr::v1::ArtifactKind kind) {
  if (auto it = uploaded_.find(path); it != uploaded_.end()) return &it->second;
  Uploaded u;
  absl::StatusOr<UploadResult> b = UploadFile(stub_, path, kind);
  if (!b.ok()) return b.status();
  u.binary = b->ref;
  absl::StatusOr<std::vector<ktstr::v1::GuestFile>> libs = UploadSharedLibraries(stub_, path);
  if (!libs.ok()) return libs.status();
  u.support = *std::move(libs);
  return &uploaded_.emplace(path, std::move(u)).first->second;
}

absl::StatusOr<ktstr::v1::JobSpec> JobBuilder::Build(const std::string& binary,
                                                     const ktstr::v1::ListedTest& t,
                                                     const JobVariant& variant) {
  absl::StatusOr<const Uploaded*> up =
      UploadWithClosure(binary, ktstr::v1::ARTIFACT_KIND_TEST_BINARY);
  if (!up.ok()) return up.status();
  ktstr::v1::JobSpec job;
  *job.mutable_test_binary() = (*up)->binary;
  for (const auto& f : (*up)->support) *job.add_support_files() = f;
  job.set_test_name(t.name());
  ktstr::v1::Topology* topo = job.mutable_shape()->mutable_topology();
  if (variant.topology != nullptr) {
    *topo = *variant.topology;
  } else {
    topo->set_numa_nodes(std::max(1u, t.numa_nodes()));
    topo->set_llcs(std::max(1u, t.llcs()));
    topo->set_cores_per_llc(std::max(1u, t.cores()));
    topo->set_threads_per_core(std::max(1u, t.threads()));
  }
  job.mutable_shape()->set_memory_mb(t.memory_mb());
  job.set_duration_s(variant.duration_s ? variant.duration_s : t.duration_s());
  SetKernel(variant.kernel, &job);
  if (NeedsSchedulerBinary(t)) {
    absl::StatusOr<std::string> path =
        ResolveSchedulerBinary(binary, t.scheduler_def(), scheduler_search_path_);
    if (!path.ok()) {
      return absl::Status(path.status().code(), absl::StrCat(Basename(binary), " ktstr/",
                                                             t.name(), ": ",
                                                             path.status().message()));
    }
    absl::StatusOr<const Uploaded*> s =
        UploadWithClosure(*path, ktstr::v1::ARTIFACT_KIND_SCHEDULER_BINARY);
    if (!s.ok()) return s.status();
    ktstr::v1::SchedulerSpec* sched = job.mutable_scheduler();
    *sched = SchedulerSpecFor(t, variant.profile);
    *sched->mutable_binary() = (*s)->binary;
    for (const auto& f : (*s)->support) *sched->add_support_files() = f;
    const ktstr::v1::ListedFlagProfile* profile = variant.profile;
    if (profile == nullptr && t.scheduler_def().profiles_size() > 0) {
      profile = &t.scheduler_def().profiles(0);
    }
    if (profile != nullptr) {
      for (const std::string& f : profile->flags()) job.add_flags(f);
    }
  }
  // ktstrd names the binary in the guest after this label.
  (*job.mutable_labels())["binary"] = Basename(binary);
  return job;
}

}  // namespace ktstr::client
