// Parses a --topology argument: "N,L,C,T" or "1n2l4c1t".
#ifndef KTSTR_CLIENT_TOPOLOGY_ARG_H_
#define KTSTR_CLIENT_TOPOLOGY_ARG_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/topology.pb.h"

namespace ktstr::client {

// INVALID_ARGUMENT with the expected forms for anything else. The daemon checks the rules
// (llcs a multiple of numa_nodes, CPU limit).
absl::StatusOr<ktstr::v1::Topology> ParseTopologyArg(const std::string& s);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_TOPOLOGY_ARG_H_
