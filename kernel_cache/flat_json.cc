#include "kernel_cache/flat_json.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ktstr::kcache {
namespace {

// Recursive-descent reader over one flat object. Parsers run long by nature; each method
// consumes one production.
class Reader {
 public:
  explicit Reader(absl::string_view text) : s_(text) {}

  absl::StatusOr<FlatJsonObject> Object() {
    FlatJsonObject obj;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    SkipSpace();
    if (Eat('}')) return Finish(std::move(obj));
    while (true) {
      SkipSpace();
      absl::StatusOr<std::string> key = String();
      if (!key.ok()) return key.status();
      SkipSpace();
      if (!Eat(':')) return Error("expected ':'");
      SkipSpace();
      absl::StatusOr<FlatJsonValue> value = Value();
      if (!value.ok()) return value.status();
      if (!obj.emplace(*key, *value).second) return Error(absl::StrCat("duplicate key ", *key));
      SkipSpace();
      if (Eat('}')) return Finish(std::move(obj));
      if (!Eat(',')) return Error("expected ',' or '}'");
    }
  }

 private:
  absl::StatusOr<FlatJsonObject> Finish(FlatJsonObject obj) {
    SkipSpace();
    if (pos_ != s_.size()) return Error("trailing data after the object");
    return obj;
  }

  absl::StatusOr<FlatJsonValue> Value() {
    if (pos_ >= s_.size()) return Error("truncated: expected a value");
    char c = s_[pos_];
    if (c == '"') {
      absl::StatusOr<std::string> str = String();
      if (!str.ok()) return str.status();
      return FlatJsonValue(*str);
    }
    if (s_.substr(pos_, 4) == "true") {
      pos_ += 4;
      return FlatJsonValue(true);
    }
    if (s_.substr(pos_, 5) == "false") {
      pos_ += 5;
      return FlatJsonValue(false);
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return Integer();
    return Error("unsupported value (only strings, integers and booleans)");
  }

  absl::StatusOr<FlatJsonValue> Integer() {
    bool neg = Eat('-');
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      return Error("expected digits");
    }
    int64_t v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (v > (INT64_MAX - 9) / 10) return Error("integer out of range");
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      return Error("fractions are not supported");
    }
    return FlatJsonValue(neg ? -v : v);
  }

  absl::StatusOr<std::string> String() {
    if (!Eat('"')) return Error("expected a string");
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return Error("truncated \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            if (!std::isxdigit(static_cast<unsigned char>(h))) return Error("bad \\u escape");
            code = code * 16 + (std::isdigit(static_cast<unsigned char>(h))
                                    ? h - '0'
                                    : (std::tolower(h) - 'a' + 10));
          }
          if (code >= 0x80) return Error("non-ASCII \\u escapes are not supported");
          out.push_back(static_cast<char>(code));
          break;
        }
        default:
          return Error("bad escape");
      }
    }
    return Error("truncated: unterminated string");
  }

  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("JSON at byte ", pos_, ": ", what));
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<FlatJsonObject> ParseFlatJson(absl::string_view text) {
  return Reader(text).Object();
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string WriteFlatJson(const std::vector<std::pair<std::string, FlatJsonValue>>& fields) {
  std::string out = "{\n";
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& [name, value] = fields[i];
    absl::StrAppend(&out, "  ", JsonQuote(name), ": ");
    if (const auto* s = std::get_if<std::string>(&value)) {
      out += JsonQuote(*s);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      absl::StrAppend(&out, *n);
    } else {
      out += std::get<bool>(value) ? "true" : "false";
    }
    out += (i + 1 < fields.size()) ? ",\n" : "\n";
  }
  out += "}\n";
  return out;
}

}  // namespace ktstr::kcache
