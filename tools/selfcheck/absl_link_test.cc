#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError(absl::StrCat(x, " is odd"));
  return x / 2;
}

TEST(AbslLink, StatusStringsContainersSync) {
  EXPECT_EQ(*Half(8), 4);
  EXPECT_EQ(Half(3).status().message(), "3 is odd");
  absl::flat_hash_map<std::string, int> m{{"a", 1}};
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  EXPECT_EQ(absl::StrFormat("%s=%d", "a", m["a"]), "a=1");
  EXPECT_GT(absl::ToUnixSeconds(absl::Now()), 0);
}

}  // namespace
