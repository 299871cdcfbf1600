#include "proto/verdict_names.h"

namespace ktstr::v1 {

const char* VerdictKindName(VerdictKind kind) {
  switch (kind) {
    case VERDICT_KIND_PASS: return "PASS";
    case VERDICT_KIND_FAIL: return "FAIL";
    case VERDICT_KIND_SKIP: return "SKIP";
    case VERDICT_KIND_TIMEOUT: return "TIMEOUT";
    case VERDICT_KIND_VM_CRASH: return "CRASH";
    case VERDICT_KIND_SCHED_DIED: return "SCHED_DIED";
    case VERDICT_KIND_SCHED_NOT_ATTACHED: return "NOT_ATTACHED";
    case VERDICT_KIND_SCHED_EJECTED: return "EJECTED";
    case VERDICT_KIND_INFRA_ERROR: return "ERROR";
    case VERDICT_KIND_CANCELLED: return "CANCELLED";
    case VERDICT_KIND_INTERRUPTED: return "INTERRUPTED";
    default: return "UNKNOWN";
  }
}

}  // namespace ktstr::v1
