#include "core/json_fast.h"

#include <string>

#include <simdjson.h>

namespace execgov {
namespace {

using Json = nlohmann::json;

// Builds `e` into *out as nlohmann's parse would; false for a value it
// cannot, or (refuse_duplicates) for an object that repeats a member name.
bool Build(simdjson::dom::element e, Json* out, bool refuse_duplicates) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::OBJECT: {
      *out = Json::object();
      auto& members = out->get_ref<Json::object_t&>();
      for (auto field : simdjson::dom::object(e)) {
        auto [it, inserted] = members.try_emplace(std::string(field.key));
        if (!inserted) {
          if (refuse_duplicates) return false;
          it->second = nullptr;  // a repeated key: the last one wins
        }
        if (!Build(field.value, &it->second, refuse_duplicates)) return false;
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

}  // namespace

std::optional<Json> ParseJsonFast(std::string_view text, bool refuse_duplicates) {
  if (text.size() > kFastJsonMaxBytes || MayHoldMinusZero(text)) return std::nullopt;
  // One parser per thread: it keeps its buffers (bounded by
  // kFastJsonMaxBytes) for the next document.
  thread_local simdjson::dom::parser parser(kFastJsonMaxBytes);
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
  if (!Build(root, &out, refuse_duplicates)) return std::nullopt;
  return out;
}

}  // namespace execgov
