#include "daemon/executor_factory.h"

#include "absl/strings/str_cat.h"
#include "daemon/testing/fake_executor.h"

namespace ktstr::daemon {

absl::StatusOr<std::unique_ptr<JobExecutor>> MakeExecutor(const DaemonOptions& options) {
  if (options.executor == "fake") return std::make_unique<FakeExecutor>();
  if (options.executor == "vm") {
    return absl::UnimplementedError(
        "the VM executor is not in this build yet (it needs vmm/ and guest_agent/); "
        "use --executor=fake for tests");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --executor '", options.executor, "' (vm or fake)"));
}

}  // namespace ktstr::daemon
