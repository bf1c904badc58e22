#include "core/json_fast.h"

#include <cstdint>
#include <cstring>
#include <string>

#include <simdjson.h>

namespace execgov {
namespace {

using Json = nlohmann::json;

// The paths still to omit below a value: bit i stands for omit[i], whose
// first `depth` names led here.
struct Omitting {
  const std::vector<JsonPath>* paths = nullptr;
  size_t depth = 0;
  uint32_t live = 0;

  // Below member `key`: the paths that continue through it, and whether one
  // ends at it (the member is left out).
  Omitting Below(std::string_view key, bool* omit_member) const {
    Omitting next{paths, depth + 1, 0};
    for (uint32_t bits = live; bits != 0; bits &= bits - 1) {
      const JsonPath& p = (*paths)[__builtin_ctz(bits)];
      if (p[depth] != key) continue;
      if (p.size() == depth + 1) *omit_member = true;
      else next.live |= bits & -bits;
    }
    return next;
  }
};

// Builds `e` into *out as nlohmann's parse would; false for a value it
// cannot, or (refuse_duplicates) for an object that repeats a member name.
bool Build(simdjson::dom::element e, Json* out, bool refuse_duplicates, Omitting omit = {}) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::OBJECT: {
      *out = Json::object();
      auto& members = out->get_ref<Json::object_t&>();
      for (auto field : simdjson::dom::object(e)) {
        Omitting below;
        if (omit.live != 0) {
          bool omit_member = false;
          below = omit.Below(field.key, &omit_member);
          if (omit_member) continue;
        }
        auto [it, inserted] = members.try_emplace(std::string(field.key));
        if (!inserted) {
          if (refuse_duplicates) return false;
          it->second = nullptr;  // a repeated key: the last one wins
        }
        if (!Build(field.value, &it->second, refuse_duplicates, below)) return false;
      }
      return true;
    }
    case Type::ARRAY: {
      *out = Json::array();
      for (auto item : simdjson::dom::array(e)) {
        out->push_back(nullptr);
        if (!Build(item, &out->back(), refuse_duplicates)) return false;
      }
      return true;
    }
    case Type::STRING:
      *out = std::string(std::string_view(e));
      return true;
    case Type::INT64: {
      int64_t v = int64_t(e);
      if (v >= 0) {
        *out = static_cast<uint64_t>(v);
      } else {
        *out = v;
      }
      return true;
    }
    case Type::UINT64:
      *out = uint64_t(e);
      return true;
    case Type::DOUBLE:
      *out = double(e);
      return true;
    case Type::BOOL:
      *out = bool(e);
      return true;
    case Type::NULL_VALUE:
      *out = nullptr;
      return true;
  }
  return false;
}

// Whether the text may hold the number -0: simdjson reads it as the integer
// 0, which nlohmann keeps signed (number_integer) and "0" unsigned. A "-0"
// followed by what ends a number; inside a string ("a-0,b") this only costs
// the fast path.
bool MayHoldMinusZero(std::string_view text) {
  for (size_t at = text.find("-0"); at != std::string_view::npos; at = text.find("-0", at + 2)) {
    if (at + 2 == text.size()) return true;
    switch (text[at + 2]) {
      case ',': case ']': case '}': case ' ': case '\t': case '\n': case '\r':
        return true;
      default:
        break;
    }
  }
  return false;
}

std::optional<Json> Parse(std::string_view text, bool refuse_duplicates, Omitting omit) {
  if (text.size() > kFastJsonMaxBytes || MayHoldMinusZero(text)) return std::nullopt;
  // One parser per thread: it keeps its buffers (bounded by
  // kFastJsonMaxBytes) for the next document.
  // Its depth limit keeps Build's recursion bounded even for a caller that
  // did not run CheckJsonLimits (that text then goes to nlohmann).
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser p(kFastJsonMaxBytes);
    // On failure (no memory) every parse fails: the caller's nlohmann parse answers.
    [[maybe_unused]] simdjson::error_code allocated = p.allocate(kFastJsonMaxBytes, kMaxJsonDepth + 1);
    return p;
  }();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input:
  // the text is copied into a padded buffer the thread reuses.
  thread_local std::string padded;
  padded.assign(text);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element root;
  if (parser.parse(padded.data(), text.size(), /*realloc_if_needed=*/false).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  Json out;
  if (!Build(root, &out, refuse_duplicates, omit)) return std::nullopt;
  return out;
}

}  // namespace

Status CheckJsonLimits(std::string_view text) {
  size_t depth = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    char c = *p++;
    switch (c) {
      case '"':
        // To the closing quote: an escaped quote is preceded by an odd run of
        // backslashes, and an escape never spans a NUL.
        for (;;) {
          const char* q = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
          if (q == nullptr) q = end;
          if (std::memchr(p, '\0', static_cast<size_t>(q - p)) != nullptr) {
            return InvalidArgument("the JSON text holds a NUL byte");
          }
          if (q == end) return Status::Ok();  // unterminated: the parser says so
          size_t backslashes = 0;
          while (q - backslashes > p && q[-1 - static_cast<ptrdiff_t>(backslashes)] == '\\') ++backslashes;
          p = q + 1;
          if (backslashes % 2 == 0) break;
        }
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          return InvalidArgument("the JSON text nests arrays and objects deeper than " +
                                 std::to_string(kMaxJsonDepth) + " levels, the limit");
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      case '\0':
        return InvalidArgument("the JSON text holds a NUL byte");
      default:
        break;
    }
  }
  return Status::Ok();
}

std::optional<Json> ParseJsonFast(std::string_view text, bool refuse_duplicates) {
  return Parse(text, refuse_duplicates, {});
}

std::optional<Json> ParseJsonFastOmitting(std::string_view text, const std::vector<JsonPath>& omit) {
  if (omit.size() > kMaxOmitted) return std::nullopt;
  Omitting o{&omit, 0, 0};
  for (size_t i = 0; i < omit.size(); ++i) {
    if (omit[i].empty()) return std::nullopt;
    o.live |= 1u << i;
  }
  return Parse(text, /*refuse_duplicates=*/false, o);
}

}  // namespace execgov
