// A minimal JSON reader/writer for flat objects of strings, integers and booleans — the
// shape of metadata.json. Nested values are rejected, so schema drift is detected rather
// than half-read.
#ifndef KTSTR_KERNEL_CACHE_FLAT_JSON_H_
#define KTSTR_KERNEL_CACHE_FLAT_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ktstr::kcache {

using FlatJsonValue = std::variant<std::string, int64_t, bool>;
using FlatJsonObject = absl::flat_hash_map<std::string, FlatJsonValue>;

// InvalidArgument with the byte offset for anything that is not one flat object.
absl::StatusOr<FlatJsonObject> ParseFlatJson(absl::string_view text);

// Writes the fields in the given order, pretty-printed one per line.
std::string WriteFlatJson(const std::vector<std::pair<std::string, FlatJsonValue>>& fields);

// A JSON string literal for `s` (quotes and escapes included).
std::string JsonQuote(absl::string_view s);

}  // namespace ktstr::kcache

#endif  // KTSTR_KERNEL_CACHE_FLAT_JSON_H_
