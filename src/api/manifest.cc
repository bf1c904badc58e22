#include "api/manifest.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace execgov::api {
namespace {

// Hand-written matchers rather than std::regex: libstdc++'s regex recurses
// once per character, so a long scalar in a hostile manifest would exhaust
// the stack.

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Decodes one UTF-8 sequence at s[*i], advancing *i. False for anything that
// is not well-formed UTF-8 (overlong forms, surrogates, above U+10FFFF).
bool NextCodePoint(std::string_view s, size_t* i, uint32_t* cp) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  int extra;
  uint32_t min;
  if (c < 0x80) { *cp = c; ++*i; return true; }
  if ((c & 0xE0) == 0xC0) { extra = 1; *cp = c & 0x1F; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { extra = 2; *cp = c & 0x0F; min = 0x800; }
  else if ((c & 0xF8) == 0xF0) { extra = 3; *cp = c & 0x07; min = 0x10000; }
  else return false;
  if (s.size() - *i <= static_cast<size_t>(extra)) return false;  // truncated
  for (int k = 1; k <= extra; ++k) {
    unsigned char d = static_cast<unsigned char>(s[*i + k]);
    if ((d & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (d & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return false;
  *i += extra + 1;
  return true;
}

// The characters a YAML stream may hold (YAML 1.1/1.2 "c-printable"); go-yaml,
// and so kubectl, refuses the others, and yaml-cpp would not.
bool YamlPrintable(uint32_t cp) {
  return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
         (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

Status CheckYamlText(std::string_view text, const std::string& source) {
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    if (!NextCodePoint(text, &i, &cp)) return InvalidArgument(source + ": line " + std::to_string(line) + ": not UTF-8");
    if (!YamlPrintable(cp)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      return InvalidArgument(source + ": line " + std::to_string(line) + ": character " + hex + " is not allowed in YAML");
    }
    line += cp == '\n';
  }
  return Status::Ok();
}

std::string DepthError(const std::string& where) {
  return where + ": nested deeper than " + std::to_string(kMaxManifestDepth) + " levels";
}

bool IsNullWord(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// go-yaml v2's boolean words (YAML 1.1 without the mixed-case forms).
int BoolWord(const std::string& s) {
  static const char* kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (const char* w : kTrue) if (s == w) return 1;
  for (const char* w : kFalse) if (s == w) return 0;
  return -1;
}

bool IsNonFiniteWord(const std::string& s) {
  static const char* kWords[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
                                 "+.INF", "-.inf", "-.Inf", "-.INF"};
  for (const char* w : kWords) if (s == w) return true;
  return false;
}

// Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64) (which takes no
// sign): decimal, 0x/0o/0b prefixes in either case, a leading 0 for octal.
bool ParseGoInt(const std::string& s, Json* out) {
  size_t i = 0;
  bool negative = false, signed_text = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) { negative = s[i] == '-'; signed_text = true; ++i; }
  int base = 10;
  if (s.size() - i >= 2 && s[i] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
    if (p == 'x') base = 16, i += 2;
    else if (p == 'o') base = 8, i += 2;
    else if (p == 'b') base = 2, i += 2;
    else base = 8, i += 1;
  }
  if (i >= s.size()) return false;
  unsigned __int128 v = 0;
  for (; i < s.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    int d = IsDigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 99;
    if (d >= base) return false;
    v = v * base + d;
    if (v > UINT64_MAX) return false;
  }
  if (negative) {
    if (v > static_cast<unsigned __int128>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(-static_cast<__int128>(v));
    return true;
  }
  if (v <= INT64_MAX) { *out = static_cast<int64_t>(v); return true; }
  if (signed_text) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

// go-yaml's yamlStyleFloat: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsYamlStyleFloat(const std::string& s) {
  size_t i = 0;
  auto digits = [&] { size_t start = i; while (i < s.size() && IsDigit(s[i])) ++i; return i - start; };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') { ++i; digits(); }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// A float as it reaches the API server: Go's encoding/json writes an integral
// float64 below 1e21 without a fraction, and the server reads that as an int.
Json FloatValue(double d) {
  if (d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) return static_cast<int64_t>(d);
  return d;
}

// strconv.ParseFloat on text that IsYamlStyleFloat accepted: an overflow is
// an error there, so go-yaml keeps the text as a string (false here).
bool ParseFloatText(const std::string& s, Json* out) {
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (*end != '\0' || std::isinf(d)) return false;
  *out = FloatValue(d);
  return true;
}

std::string WithoutUnderscores(const std::string& s) {
  std::string out;
  for (char c : s) if (c != '_') out += c;
  return out;
}

// Go's underscoreOK for decimal text: every '_' between two digits.
bool UnderscoresBetweenDigits(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') continue;
    if (i == 0 || i + 1 == s.size() || !IsDigit(s[i - 1]) || !IsDigit(s[i + 1])) return false;
  }
  return true;
}

// Resolves an unquoted YAML scalar as go-yaml v2's resolve() does for
// kubectl. A timestamp stays a string: go-yaml hands it to sigs.k8s.io/yaml as
// the text it was. Sexagesimal (12:30) is a string too: go-yaml dropped it.
Status ResolvePlain(const std::string& s, Json* out, const std::string& where) {
  if (IsNullWord(s)) { *out = nullptr; return Status::Ok(); }
  if (int b = BoolWord(s); b >= 0) { *out = b == 1; return Status::Ok(); }
  if (IsNonFiniteWord(s)) return InvalidArgument(where + ": " + s + " is a number JSON cannot represent; quote it for a string");
  *out = s;
  char first = s[0];
  if (first == '.') {
    // strconv.ParseFloat on the text itself.
    std::string plain = WithoutUnderscores(s);
    if (UnderscoresBetweenDigits(s) && IsYamlStyleFloat(plain)) ParseFloatText(plain, out);
  } else if (IsDigit(first) || first == '+' || first == '-') {
    std::string plain = WithoutUnderscores(s);
    if (!ParseGoInt(plain, out)) {
      if (IsYamlStyleFloat(plain)) ParseFloatText(plain, out);
    } else if (out->is_number_unsigned()) {
      // Above int64: the API server reads kubectl's digits back as a float.
      *out = FloatValue(static_cast<double>(out->get<uint64_t>()));
    }
  }
  return Status::Ok();
}

// Applies an explicit core-schema tag (!!int 0644, !!str 12) the way go-yaml
// does: the text is resolved and must have the tagged type.
Status ResolveScalar(const YAML::Node& node, Json* out, const std::string& where) {
  const std::string& tag = node.Tag();
  const std::string& value = node.Scalar();
  // The text was UTF-8, but yaml-cpp 0.7 decodes the escapes \N and \_ of a
  // double-quoted scalar to the single bytes 0x85 and 0xA0, not to U+0085
  // and U+00A0: a string no YAML writer could give back (found by
  // tests/fuzz/manifest_fuzz.cc).
  for (size_t i = 0; i < value.size();) {
    uint32_t cp;
    if (!NextCodePoint(value, &i, &cp)) {
      return InvalidArgument(where + ": a string that is not UTF-8 once its escapes are decoded (\\N and \\_ are "
                             "not supported; write the character itself)");
    }
  }
  if (tag == "!" || tag == "tag:yaml.org,2002:str") { *out = value; return Status::Ok(); }
  if (tag == "?") return ResolvePlain(value, out, where);
  static const std::string kCore = "tag:yaml.org,2002:";
  if (tag.rfind(kCore, 0) == 0) {
    std::string type = tag.substr(kCore.size());
    EXECGOV_RETURN_IF_ERROR(ResolvePlain(value, out, where));
    bool fits = (type == "int" && out->is_number_integer()) || (type == "float" && out->is_number()) ||
                (type == "bool" && out->is_boolean()) || (type == "null" && out->is_null());
    if (fits) return Status::Ok();
    if (type == "int" || type == "float" || type == "bool" || type == "null") {
      return InvalidArgument(where + ": \"" + value + "\" is not a valid !!" + type);
    }
  }
  return InvalidArgument(where + ": unsupported YAML tag " + tag);
}

// A mapping key as sigs.k8s.io/yaml turns it into a JSON member name.
Status KeyOf(const YAML::Node& key, std::string* out, const std::string& where) {
  if (key.IsNull()) return InvalidArgument(where + ": a null mapping key (kubectl refuses it too)");
  if (!key.IsScalar()) return InvalidArgument(where + ": a mapping key that is not a scalar");
  if (key.Tag() == "?" && key.Scalar() == "<<") {
    return InvalidArgument(where + ": merge keys (<<) are not supported; write the members out, or quote \"<<\"");
  }
  Json v;
  EXECGOV_RETURN_IF_ERROR(ResolveScalar(key, &v, where));
  if (v.is_string()) *out = v.get<std::string>();
  else if (v.is_boolean()) *out = v.get<bool>() ? "true" : "false";
  else if (v.is_number_integer()) *out = v.dump();
  else if (v.is_null()) return InvalidArgument(where + ": a null mapping key (kubectl refuses it too)");
  else return InvalidArgument(where + ": mapping key " + key.Scalar() + " is a float to kubectl; quote it");
  return Status::Ok();
}

struct Budget {
  int depth = 0;
  size_t values_left = 0;  // aliases can repeat a subtree; the text bounds the rest
};

Status ToJson(const YAML::Node& node, Json* out, const std::string& where, Budget* budget) {
  if (budget->values_left-- == 0) {
    return InvalidArgument(where + ": aliases expand to far more values than the text holds");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out = nullptr;
      return Status::Ok();
    case YAML::NodeType::Scalar:
      return ResolveScalar(node, out, where);
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map:
      break;
  }
  if (++budget->depth > kMaxManifestDepth) return InvalidArgument(DepthError(where));
  if (node.IsSequence()) {
    *out = Json::array();
    size_t i = 0;
    for (const auto& item : node) {
      Json v;
      EXECGOV_RETURN_IF_ERROR(ToJson(item, &v, where + "[" + std::to_string(i++) + "]", budget));
      out->push_back(std::move(v));
    }
  } else {
    *out = Json::object();
    for (const auto& kv : node) {
      std::string key;
      EXECGOV_RETURN_IF_ERROR(KeyOf(kv.first, &key, where));
      if (out->contains(key)) return InvalidArgument(where + ": duplicate key \"" + key + "\"");
      Json v;
      EXECGOV_RETURN_IF_ERROR(ToJson(kv.second, &v, where + "." + key, budget));
      (*out)[key] = std::move(v);
    }
  }
  --budget->depth;
  return Status::Ok();
}

// A "kind: List" document's items in its place, each of which must be an
// object too (a scalar item would be a document no reader takes back).
// `kind` is read only when it is a string: Json::value() throws for a
// member of another type ("kind:" alone is null), which fuzz_policy_yaml
// found ending the process.
Status ExpandList(Json doc, const std::string& where, std::vector<Json>* out) {
  auto kind = doc.find("kind");
  if (doc.is_object() && kind != doc.end() && kind->is_string() && *kind == "List" && doc.contains("items") &&
      doc["items"].is_array()) {
    size_t i = 0;
    for (auto& item : doc["items"]) {
      std::string at = where + ": items[" + std::to_string(i++) + "]";
      if (!item.is_object()) return InvalidArgument(at + " is not a mapping (a Kubernetes object)");
      EXECGOV_RETURN_IF_ERROR(ExpandList(std::move(item), at, out));
    }
    return Status::Ok();
  }
  out->push_back(std::move(doc));
  return Status::Ok();
}

// --- Writing -----------------------------------------------------------------

bool IsReservedWord(const std::string& s) {
  // YAML 1.1 booleans and nulls, and float words, in any case: a reader that
  // folds case must not see a boolean either.
  static const char* kWords[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"};
  if (s.size() > 5) return false;
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : kWords) if (lower == w) return true;
  return false;
}

// The safe pattern: (-|--)?[A-Za-z/][A-Za-z0-9_./=-]*, not a reserved word.
// No number, date, time, null, boolean or indicator can match it.
bool IsSafePlain(const std::string& s) {
  size_t i = 0;
  if (s.rfind("--", 0) == 0) i = 2;
  else if (s.rfind("-", 0) == 0) i = 1;
  if (i >= s.size() || !(IsLetter(s[i]) || (i == 0 && s[i] == '/'))) return false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (!(IsLetter(c) || IsDigit(c) || c == '_' || c == '.' || c == '/' || c == '=' || c == '-')) return false;
  }
  return !IsReservedWord(s);
}

void AppendEscape(uint32_t cp, std::string* out) {
  char buf[16];
  if (cp <= 0xFF) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
  else if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
  else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
  *out += buf;
}

// A YAML double-quoted scalar holding exactly `s`, in printable ASCII.
std::string DoubleQuoted(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    if (!NextCodePoint(s, &i, &cp)) {  // excluded by the contract; never drop it silently
      cp = 0xFFFD;
      ++i;
    }
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (cp < 0x20 || cp >= 0x7F) AppendEscape(cp, &out);
        else out += static_cast<char>(cp);
    }
  }
  return out + "\"";
}

std::string StringScalar(const std::string& s) { return IsSafePlain(s) ? s : DoubleQuoted(s); }

// A float needs a '.' and a signed exponent to be a float to YAML 1.1 readers
// (PyYAML reads 1e+20 as a string); nlohmann writes 1e+20 and 1.5e-07.
std::string FloatScalar(const Json& v) {
  std::string text = v.dump();
  size_t e = text.find_first_of("eE");
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (e == std::string::npos) return mantissa;
  std::string exponent = text.substr(e + 1);
  if (exponent[0] != '+' && exponent[0] != '-') exponent = "+" + exponent;
  return mantissa + "e" + exponent;
}

std::string Scalar(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return StringScalar(v.get_ref<const std::string&>());
    case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "{}";
    case Json::value_t::array: return "[]";
    case Json::value_t::number_float: return FloatScalar(v);
    default: return v.dump();  // integers
  }
}

bool IsBlock(const Json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

// PyYAML and go-yaml refuse an implicit key longer than 1024 characters; a
// longer one is written as an explicit "? key".
constexpr size_t kMaxImplicitKey = 1000;

// Writes a non-empty mapping or sequence in block style at `indent`. When
// `inline_first` the caller already wrote "- " and the first line goes there.
void EmitBlock(const Json& v, size_t indent, bool inline_first, std::string* out) {
  const std::string pad(indent, ' ');
  bool first = true;
  auto start_line = [&] {
    if (!(first && inline_first)) *out += pad;
    first = false;
  };
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      start_line();
      std::string key = StringScalar(it.key());
      if (key.size() > kMaxImplicitKey) *out += "? " + key + "\n" + pad;
      *out += key.size() > kMaxImplicitKey ? ":" : key + ":";
      if (IsBlock(it.value())) {
        *out += "\n";
        EmitBlock(it.value(), indent + 2, false, out);
      } else {
        *out += " " + Scalar(it.value()) + "\n";
      }
    }
    return;
  }
  for (const auto& item : v) {
    start_line();
    if (IsBlock(item)) {
      *out += "- ";
      EmitBlock(item, indent + 2, true, out);
    } else {
      *out += "- " + Scalar(item) + "\n";
    }
  }
}

// Events are dropped: only the number of documents matters.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7's LoadAll never returns for some malformed streams (a lone
// ",": github.com/jbeder/yaml-cpp/issues/1040, fixed upstream after 0.8 by
// pull 1319): its parser reports an empty document without consuming the
// token, forever, and LoadAll keeps each one until memory runs out. Found by
// tests/fuzz/manifest_fuzz.cc. Every document after the first starts with
// "---" or follows "...", so a stream that yields more documents than it has
// such markers is that loop: refused before LoadAll runs. Throws what
// yaml-cpp's parser throws for invalid YAML.
Status CheckDocumentsEnd(const std::string& text, const std::string& source) {
  size_t markers = 0;
  for (std::string_view m : {"---", "..."}) {
    for (size_t at = text.find(m); at != std::string::npos; at = text.find(m, at + 1)) ++markers;
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (size_t documents = 0; parser.HandleNextDocument(counter);) {
    if (++documents > markers + 1) {
      return InvalidArgument(source + ": invalid YAML: the parser makes no progress after document " +
                             std::to_string(markers + 1));
    }
  }
  return Status::Ok();
}

}  // namespace

bool LooksLikeJson(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    return c == '{' || c == '[';
  }
  return false;
}

StatusOr<std::vector<Json>> ParseManifests(std::string_view text, const std::string& source) {
  std::vector<Json> docs;
  if (LooksLikeJson(text)) {
    // A stream of JSON values, as kubectl accepts: parse them one after another.
    size_t pos = 0;
    while (true) {
      while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
      if (pos >= text.size()) break;
      std::string where = source + ": document " + std::to_string(docs.size() + 1);
      // Find where this value ends by bracket depth, outside string literals;
      // the depth limit is checked here, before any parser sees the text.
      size_t depth = 0, end = pos;
      bool in_string = false, escape = false;
      for (; end < text.size(); ++end) {
        char c = text[end];
        if (in_string) {
          if (escape) escape = false;
          else if (c == '\\') escape = true;
          else if (c == '"') in_string = false;
          continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') {
          if (++depth > static_cast<size_t>(kMaxManifestDepth)) return InvalidArgument(DepthError(where));
        } else if (c == '}' || c == ']') {
          if (depth == 0) break;
          if (--depth == 0) { ++end; break; }
        }
      }
      auto doc = crypto::ParseJsonStrict(text.substr(pos, end - pos));
      if (!doc.ok()) return InvalidArgument(where + ": " + doc.status().message());
      if (!doc->is_object()) return InvalidArgument(where + " is not a JSON object");
      EXECGOV_RETURN_IF_ERROR(ExpandList(std::move(doc).value(), where, &docs));
      pos = end;
    }
    return docs;
  }
  EXECGOV_RETURN_IF_ERROR(CheckYamlText(text, source));
  std::vector<YAML::Node> nodes;
  try {
    const std::string owned(text);
    EXECGOV_RETURN_IF_ERROR(CheckDocumentsEnd(owned, source));
    nodes = YAML::LoadAll(owned);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard (a few hundred levels) fires before ours could.
    return InvalidArgument(DepthError(source + ": line " + std::to_string(e.mark.line + 1)));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  Budget budget;
  budget.values_left = text.size() + 100000;
  int index = 0;
  for (const auto& node : nodes) {
    ++index;
    if (node.IsNull()) continue;
    Json doc;
    std::string where = source + ": document " + std::to_string(index);
    EXECGOV_RETURN_IF_ERROR(ToJson(node, &doc, where, &budget));
    if (!doc.is_object()) return InvalidArgument(where + " is not a mapping (a Kubernetes object)");
    EXECGOV_RETURN_IF_ERROR(ExpandList(std::move(doc), where, &docs));
  }
  return docs;
}

std::string EmitYaml(const std::vector<Json>& docs) {
  std::string out;
  // A stream that opens with `{` or `[` is read as JSON documents, which
  // `---` cannot separate: a first document written in flow style (an empty
  // object, say) is given its marker (found by tests/fuzz/manifest_fuzz.cc).
  if (docs.size() > 1 && !IsBlock(docs[0])) out += "---\n";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i > 0) out += "---\n";
    if (IsBlock(docs[i])) EmitBlock(docs[i], 0, false, &out);
    else out += Scalar(docs[i]) + "\n";
  }
  return out;
}

}  // namespace execgov::api
