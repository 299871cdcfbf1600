#include "guest_agent/testlib/registry.h"

#include "absl/strings/str_cat.h"

namespace ktstr {

Registry& Registry::Get() {
  static Registry* r = new Registry();
  return *r;
}

bool Registry::Register(std::string name, TestAttrs attrs, TestFn fn, const char* file, int line) {
  const std::string where = absl::StrCat(file, ":", line);
  if (Find(name) != nullptr) {
    errors_.push_back(absl::StrCat(where, ": test '", name, "' is registered twice"));
    return false;
  }
  if (absl::Status s = ValidateTestAttrs(name, attrs); !s.ok()) {
    errors_.push_back(absl::StrCat(where, ": ", s.message()));
    return false;
  }
  tests_.push_back({std::move(name), std::move(attrs), fn, file, line});
  return true;
}

const TestEntry* Registry::Find(absl::string_view name) const {
  for (const TestEntry& t : tests_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace ktstr
