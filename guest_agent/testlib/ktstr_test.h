// The one header scheduler-test authors include.
//
//   #include "guest_agent/testlib/ktstr_test.h"
//   KTSTR_TEST(my_test, {.llcs = 1, .cores = 2, .threads = 1}) {
//     return ktstr::scenarios::steady(ctx);
//   }
//
// The body runs where the binary runs (in the VM, or bare-metal with --ktstr-run) with
// `const ktstr::Ctx& ctx` in scope and returns absl::StatusOr<ktstr::AssertResult>.
// Attributes are C++20 designated initializers of ktstr::TestAttrs (declaration order).
// Link //guest_agent/testlib:ktstr_test, which provides main().
#ifndef KTSTR_GUEST_AGENT_TESTLIB_KTSTR_TEST_H_
#define KTSTR_GUEST_AGENT_TESTLIB_KTSTR_TEST_H_

#include <chrono>

#include "absl/status/statusor.h"
#include "guest_agent/testlib/cgroup_manager.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/ctx.h"
#include "guest_agent/testlib/ops.h"
#include "guest_agent/testlib/registry.h"
#include "guest_agent/testlib/scenario.h"
#include "guest_agent/testlib/scenarios.h"
#include "guest_agent/testlib/scheduler_def.h"
#include "guest_agent/testlib/test_attrs.h"
#include "guest_agent/testlib/topology.h"
#include "guest_agent/testlib/work_types.h"
#include "guest_agent/testlib/worker_report.h"

// Registers `name` with the attributes in the braces; the block that follows is the body.
#define KTSTR_TEST(name, ...)                                                                     \
  static ::absl::StatusOr<::ktstr::AssertResult> ktstr_test_body_##name(const ::ktstr::Ctx& ctx); \
  [[maybe_unused]] static const bool ktstr_test_registered_##name =                               \
      ::ktstr::Registry::Get().Register(#name, ::ktstr::TestAttrs __VA_ARGS__,                    \
                                        &ktstr_test_body_##name, __FILE__, __LINE__);             \
  static ::absl::StatusOr<::ktstr::AssertResult> ktstr_test_body_##name(                          \
      [[maybe_unused]] const ::ktstr::Ctx& ctx)

#endif  // KTSTR_GUEST_AGENT_TESTLIB_KTSTR_TEST_H_
