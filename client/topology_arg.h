// Parses a --topology argument: "N,L,C,T", "1n2l4c1t" or a gauntlet preset name.
#ifndef KTSTR_CLIENT_TOPOLOGY_ARG_H_
#define KTSTR_CLIENT_TOPOLOGY_ARG_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/ktstr/v1/topology.pb.h"

namespace ktstr::client {

// INVALID_ARGUMENT, with the rule that failed and the accepted forms, for anything else. The
// rules are vmm's (llcs a multiple of numa_nodes, at most 252 CPUs), as in the daemon.
absl::StatusOr<ktstr::v1::Topology> ParseTopologyArg(const std::string& s);

}  // namespace ktstr::client

#endif  // KTSTR_CLIENT_TOPOLOGY_ARG_H_
