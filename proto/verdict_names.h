// Short display names of the API's closed verdict type, shared by ktstrd's logs and
// ktstr-client's PASS/FAIL lines and JUnit output so they never drift apart.
#ifndef KTSTR_PROTO_VERDICT_NAMES_H_
#define KTSTR_PROTO_VERDICT_NAMES_H_

#include "proto/ktstr/v1/verdict.pb.h"

namespace ktstr::v1 {

// "PASS", "FAIL", "SKIP", "TIMEOUT", "CRASH", "SCHED_DIED", "NOT_ATTACHED", "EJECTED",
// "ERROR", "CANCELLED", "INTERRUPTED"; "UNKNOWN" for anything else.
const char* VerdictKindName(VerdictKind kind);

}  // namespace ktstr::v1

#endif  // KTSTR_PROTO_VERDICT_NAMES_H_
