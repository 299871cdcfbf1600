#include "daemon/grpc_status.h"

#include <string>

namespace ktstr::daemon {

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  constexpr size_t kMaxMessage = 1024;
  std::string msg(s.message().substr(0, kMaxMessage));
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), msg);
}

}  // namespace ktstr::daemon
