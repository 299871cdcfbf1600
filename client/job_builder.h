// Turns a listed test into a JobSpec for ktstrd: uploads the test binary and its library
// closure, finds and uploads the test's sched_ext loader (client/scheduler_binary.h), and
// fills the shape, duration, kernel, scheduler and flags. Each file is uploaded once per
// builder, however many jobs use it (a gauntlet makes dozens of jobs from one binary).
#ifndef KTSTR_CLIENT_JOB_BUILDER_H_
#define KTSTR_CLIENT_JOB_BUILDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"
#include "proto/ktstr/v1/test_list.pb.h"

namespace ktstr::client {

// What varies per job beyond the test itself.
struct JobVariant {
  const ktstr::v1::Topology* topology = nullptr;         // null = the test's own
  const ktstr::v1::ListedFlagProfile* profile = nullptr;  // null = the default profile
  std::string kernel;       // "" = the daemon's default; "7.3.4" a version, else a cache key
  uint32_t duration_s = 0;  // 0 = the test's own
};

// JobSpec.kernel from a --kernel argument (a version when it starts with a digit).
void SetKernel(const std::string& kernel, ktstr::v1::JobSpec* job);

class JobBuilder {
 public:
  // `scheduler_search_path`: $KTSTR_SCHEDULER_PATH's value.
  JobBuilder(ktstr::v1::Ktstrd::Stub* stub, std::string scheduler_search_path)
      : stub_(stub), scheduler_search_path_(std::move(scheduler_search_path)) {}

  // Errors name the binary and test (a missing loader, a failed upload).
  absl::StatusOr<ktstr::v1::JobSpec> Build(const std::string& binary,
                                           const ktstr::v1::ListedTest& test,
                                           const JobVariant& variant);

 private:
  struct Uploaded {
    ktstr::v1::ArtifactRef binary;
    std::vector<ktstr::v1::GuestFile> support;  // the library closure, at host paths
  };
  absl::StatusOr<const Uploaded*> UploadWithClosure(const std::string& path,
                                                    ktstr::v1::ArtifactKind kind);

  ktstr::v1::Ktstrd::Stub* stub_;
  std::string scheduler_search_path_;
  std::map<std::string, Uploaded> uploaded_;  // host path -> artifact and closure
};

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_JOB_BUILDER_H_
