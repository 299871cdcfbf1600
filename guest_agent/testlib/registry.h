// Static registration of KTSTR_TEST bodies. Attributes are validated when a test registers;
// errors are kept (naming the test) and reported by the harness before anything runs.
#ifndef KTSTR_GUEST_AGENT_TESTLIB_REGISTRY_H_
#define KTSTR_GUEST_AGENT_TESTLIB_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "guest_agent/testlib/checks.h"
#include "guest_agent/testlib/ctx.h"
#include "guest_agent/testlib/test_attrs.h"

namespace ktstr {

using TestFn = absl::StatusOr<AssertResult> (*)(const Ctx& ctx);

struct TestEntry {
  std::string name;
  TestAttrs attrs;
  TestFn fn = nullptr;
  std::string file;
  int line = 0;
};

class Registry {
 public:
  static Registry& Get();
  // Returns false (and records why) for a duplicate name or invalid attributes.
  bool Register(std::string name, TestAttrs attrs, TestFn fn, const char* file, int line);
  const std::vector<TestEntry>& tests() const { return tests_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const TestEntry* Find(absl::string_view name) const;

 private:
  std::vector<TestEntry> tests_;
  std::vector<std::string> errors_;
};

}  // namespace ktstr

#endif  // KTSTR_GUEST_AGENT_TESTLIB_REGISTRY_H_
