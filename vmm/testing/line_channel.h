// Test-only: one line request/answer with testing/test_init.c over a VM's channel socket.
#ifndef KTSTR_VMM_TESTING_LINE_CHANNEL_H_
#define KTSTR_VMM_TESTING_LINE_CHANNEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ktstr::vmm::testing {

// Connects to the unix socket, sends `request` + "\n" and returns the first answer line.
// The request is re-sent every 2 s until answered: the guest only sees bytes once it reads
// the port, and re-sending in a tight loop would just fill QEMU's queue.
absl::StatusOr<std::string> AskLine(const std::string& socket_path, const std::string& request,
                                    absl::Duration timeout);

}  // namespace ktstr::vmm::testing

#endif  // KTSTR_VMM_TESTING_LINE_CHANNEL_H_
