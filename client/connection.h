// Finding and talking to ktstrd: the per-user socket (or --socket), the standard gRPC health
// check, and starting a per-user daemon in the background when none answers.
#ifndef KTSTR_CLIENT_CONNECTION_H_
#define KTSTR_CLIENT_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/ktstr/v1/ktstr_service.grpc.pb.h"

namespace ktstr::client {

namespace config {
// How long a freshly started ktstrd may take to answer its health check (it opens SQLite
// and the artifact store; no VM is booted before the first job).
inline constexpr absl::Duration kAutostartWait = absl::Seconds(15);
// Deadline of short unary calls.
inline constexpr absl::Duration kUnaryDeadline = absl::Seconds(30);
}  // namespace config

struct ConnectOptions {
  std::string socket_path;  // "" = the per-user default
  bool autostart = true;    // start a per-user ktstrd if none answers
};

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ktstr::v1::Ktstrd::Stub> stub;
  std::string socket_path;
};

// UNAVAILABLE with what to do when no daemon answers (and autostart is off or failed).
absl::StatusOr<Connection> Connect(const ConnectOptions& options);

// grpc.health.v1.Health/Check for the whole server; true when SERVING.
bool HealthCheck(grpc::Channel* channel, absl::Duration deadline);

// A ClientContext whose deadline is `d` from now.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(absl::Duration d = config::kUnaryDeadline);

// grpc::Status -> absl::Status, keeping code and message.
absl::Status FromGrpc(const grpc::Status& s);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_CONNECTION_H_
