// absl::Status -> grpc::Status: the only place the daemon converts between them.
#ifndef KTSTR_DAEMON_GRPC_STATUS_H_
#define KTSTR_DAEMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ktstr::daemon {

// Same code; the message is capped at 1 KiB (TF Serving's rule) so a huge console excerpt
// never ends up in an RPC trailer.
grpc::Status ToGrpcStatus(const absl::Status& s);

}  // namespace ktstr::daemon

#endif  // KTSTR_DAEMON_GRPC_STATUS_H_
