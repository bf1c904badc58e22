#include "crypto/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/json_fast.h"
#include "core/json_string.h"

namespace execgov::crypto {

namespace {

// Builds the DOM from SAX events, refusing a duplicate member name as soon as
// its key arrives (nlohmann's own DOM parser keeps the last one silently).
// Faster than the callback parser, which calls a std::function per event.
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(Json* root) : root_(root) {}

  bool null() { return Add(nullptr) != nullptr; }
  bool boolean(bool v) { return Add(v) != nullptr; }
  bool number_integer(Json::number_integer_t v) { return Add(v) != nullptr; }
  bool number_unsigned(Json::number_unsigned_t v) { return Add(v) != nullptr; }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return Add(v) != nullptr; }
  bool string(Json::string_t& v) { return Add(std::move(v)) != nullptr; }
  bool binary(Json::binary_t& v) { return Add(Json::binary(std::move(v))) != nullptr; }
  bool start_object(std::size_t) {
    stack_.push_back(Add(Json::value_t::object));
    return true;
  }
  bool key(Json::string_t& k) {
    Json* object = stack_.back();
    auto [it, inserted] = object->get_ref<Json::object_t&>().try_emplace(std::move(k));
    if (!inserted) {
      duplicate_ = it->first;
      return false;  // stops the parse
    }
    member_ = &it->second;
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    stack_.push_back(Add(Json::value_t::array));
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const Json::exception& e) {
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] "; keep the readable part.
    auto pos = what.find("] ");
    error_ = pos == std::string::npos ? what : what.substr(pos + 2);
    return false;
  }

  const std::string& duplicate() const { return duplicate_; }
  const std::string& error() const { return error_; }

 private:
  // Places a value where the parse is: the root, the next array element, or
  // the member whose key came last. Returns where it went.
  template <class V>
  Json* Add(V&& v) {
    if (stack_.empty()) {
      *root_ = Json(std::forward<V>(v));
      return root_;
    }
    Json* parent = stack_.back();
    if (parent->is_array()) {
      parent->get_ref<Json::array_t&>().emplace_back(std::forward<V>(v));
      return &parent->get_ref<Json::array_t&>().back();
    }
    *member_ = Json(std::forward<V>(v));
    return member_;
  }

  Json* root_;
  std::vector<Json*> stack_;  // the open containers, innermost last
  Json* member_ = nullptr;
  std::string duplicate_, error_;
};

}  // namespace

StatusOr<Json> ParseJsonStrict(std::string_view text) {
  // Before either parse builds anything: the nesting limit and no NUL.
  if (Status st = CheckJsonLimits(text); !st.ok()) return InvalidArgument("invalid JSON: " + st.message());
  // simdjson first (an artifact's header and claims on every admission):
  // it answers only for text nlohmann accepts and builds the same value,
  // duplicates aside, which it leaves to the parse below to report.
  if (auto fast = ParseJsonFast(text, /*refuse_duplicates=*/true)) return std::move(*fast);
  Json out;
  StrictDomBuilder builder(&out);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json, /*strict=*/true);
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
  if (!builder.duplicate().empty()) {
    return InvalidArgument("invalid JSON: duplicate member name \"" + builder.duplicate() + "\"");
  }
  if (!ok) return InvalidArgument("invalid JSON: " + (builder.error().empty() ? std::string("syntax error") : builder.error()));
  return out;
}

std::string FormatEcmaNumber(double value) {
  if (value == 0) return "0";  // also -0
  char buf[64];
  // Shortest round-trip digits, in scientific form: d[.ddd]e[+-]XX.
  auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;  // the decimal point sits after n digits
  std::string out;
  if (k <= n && n <= 21) {
    out = digits + std::string(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out = digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out = "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  } else {
    int exp = n - 1;
    out = digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += exp < 0 ? "e-" : "e+";
    out += std::to_string(std::abs(exp));
  }
  return negative ? "-" + out : out;
}

namespace {

// UTF-16 code units of a UTF-8 string (input validated by the JSON parser).
std::u16string Utf16(const std::string& s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c >> 5) == 6) { cp = c & 0x1F; len = 2; }
    else if ((c >> 4) == 14) { cp = c & 0x0F; len = 3; }
    else { cp = c & 0x07; len = 4; }
    for (size_t j = 1; j < len && i + j < s.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

// `depth` counts the arrays and objects around `v`: a value built in code
// (not parsed) may nest deeper than any parse allows, and this recursion is
// bounded by the same limit.
Status Append(const Json& v, std::string* out, size_t depth) {
  if (v.is_structured() && depth >= kMaxJsonDepth) {
    return InvalidArgument("JSON value nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels, the limit");
  }
  switch (v.type()) {
    case Json::value_t::null: *out += "null"; return Status::Ok();
    case Json::value_t::boolean: *out += v.get<bool>() ? "true" : "false"; return Status::Ok();
    case Json::value_t::number_integer: {
      AppendCanonicalInteger(v.get<int64_t>(), out);
      return Status::Ok();
    }
    case Json::value_t::number_unsigned: {
      AppendCanonicalInteger(v.get<uint64_t>(), out);
      return Status::Ok();
    }
    case Json::value_t::number_float: {
      double d = v.get<double>();
      if (!std::isfinite(d)) return InvalidArgument("JSON number is not finite");
      *out += FormatEcmaNumber(d);
      return Status::Ok();
    }
    case Json::value_t::string: AppendJsonString(v.get_ref<const std::string&>(), out); return Status::Ok();
    case Json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out->push_back(',');
        first = false;
        EXECGOV_RETURN_IF_ERROR(Append(e, out, depth + 1));
      }
      out->push_back(']');
      return Status::Ok();
    }
    case Json::value_t::object: {
      // nlohmann orders keys by UTF-8 bytes; JCS wants UTF-16 code units. The
      // two differ only for keys with characters above U+FFFF, so sort anew.
      std::vector<std::pair<std::u16string, Json::const_iterator>> members;
      members.reserve(v.size());
      bool need_sort = false;
      for (auto it = v.begin(); it != v.end(); ++it) {
        for (unsigned char c : it.key()) need_sort |= c >= 0xF0;
        members.emplace_back(std::u16string(), it);
      }
      if (need_sort) {
        for (auto& m : members) m.first = Utf16(m.second.key());
        std::stable_sort(members.begin(), members.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out->push_back('{');
      bool first = true;
      for (const auto& m : members) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(m.second.key(), out);
        out->push_back(':');
        EXECGOV_RETURN_IF_ERROR(Append(m.second.value(), out, depth + 1));
      }
      out->push_back('}');
      return Status::Ok();
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      return InvalidArgument("JSON value has no canonical form");
  }
  return InvalidArgument("JSON value has no canonical form");
}

}  // namespace

void AppendCanonicalInteger(int64_t i, std::string* out) {
  // Integers that a double represents exactly print the same either way.
  if (i > -(int64_t(1) << 53) && i < (int64_t(1) << 53)) *out += std::to_string(i);
  else *out += FormatEcmaNumber(static_cast<double>(i));
}

void AppendCanonicalInteger(uint64_t u, std::string* out) {
  if (u < (uint64_t(1) << 53)) *out += std::to_string(u);
  else *out += FormatEcmaNumber(static_cast<double>(u));
}

StatusOr<std::string> Canonicalize(const Json& value) {
  std::string out;
  EXECGOV_RETURN_IF_ERROR(Append(value, &out, 0));
  return out;
}

}  // namespace execgov::crypto
