#include "api/manifest.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <sstream>
#include <regex>

namespace execgov::api {
namespace {

bool IsNullWord(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

int BoolWord(const std::string& s) {
  static const char* kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (const char* w : kTrue) if (s == w) return 1;
  for (const char* w : kFalse) if (s == w) return 0;
  return -1;
}

// Resolves an unquoted YAML scalar to a typed JSON value.
Json ResolvePlain(const std::string& s) {
  if (IsNullWord(s)) return nullptr;
  int b = BoolWord(s);
  if (b >= 0) return b == 1;
  static const std::regex kInt(R"([-+]?(0|[1-9][0-9_]*))");
  static const std::regex kHex(R"(0x[0-9a-fA-F_]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, kInt)) {
    std::string digits;
    for (char c : s) if (c != '_') digits += c;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(digits.c_str(), &end, 10);
    if (errno == 0 && *end == '\0') return static_cast<int64_t>(v);
    return std::strtod(digits.c_str(), nullptr);
  }
  if (std::regex_match(s, kHex)) {
    std::string digits;
    for (char c : s.substr(2)) if (c != '_') digits += c;
    return static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, 16));
  }
  if (std::regex_match(s, kFloat)) {
    std::string digits;
    for (char c : s) if (c != '_') digits += c;
    return std::strtod(digits.c_str(), nullptr);
  }
  return s;
}

Status ToJson(const YAML::Node& node, Json* out, const std::string& where) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out = nullptr;
      return Status::Ok();
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      const std::string& value = node.Scalar();
      if (tag == "?" ) *out = ResolvePlain(value);
      else if (tag == "!" || tag == "tag:yaml.org,2002:str") *out = value;
      else if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
               tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") *out = ResolvePlain(value);
      else return InvalidArgument(where + ": unsupported YAML tag " + tag);
      if (out->is_number_float() && !std::isfinite(out->get<double>()))
        return InvalidArgument(where + ": a number that JSON cannot represent");
      return Status::Ok();
    }
    case YAML::NodeType::Sequence: {
      *out = Json::array();
      size_t i = 0;
      for (const auto& item : node) {
        Json v;
        EXECGOV_RETURN_IF_ERROR(ToJson(item, &v, where + "[" + std::to_string(i++) + "]"));
        out->push_back(std::move(v));
      }
      return Status::Ok();
    }
    case YAML::NodeType::Map: {
      *out = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) return InvalidArgument(where + ": a mapping key that is not a scalar");
        std::string key = kv.first.Scalar();
        if (out->contains(key)) return InvalidArgument(where + ": duplicate key \"" + key + "\"");
        Json v;
        EXECGOV_RETURN_IF_ERROR(ToJson(kv.second, &v, where + "." + key));
        (*out)[key] = std::move(v);
      }
      return Status::Ok();
    }
  }
  return InvalidArgument(where + ": unknown YAML node");
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

bool NeedsQuotes(const std::string& s) {
  Json resolved = ResolvePlain(s);
  if (!resolved.is_string()) return true;
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
    return true;
  static const std::string kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string::npos) return true;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == '#' && i > 0 && s[i - 1] == ' ') return true;
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) return true;
  }
  return false;
}

void Emit(YAML::Emitter& e, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      if (v.empty()) { e << YAML::Flow << YAML::BeginMap << YAML::EndMap; return; }
      e << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        e << YAML::Key;
        if (NeedsQuotes(it.key())) e << YAML::DoubleQuoted;
        e << it.key() << YAML::Value;
        Emit(e, it.value());
      }
      e << YAML::EndMap;
      return;
    case Json::value_t::array:
      if (v.empty()) { e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq; return; }
      e << YAML::BeginSeq;
      for (const auto& item : v) Emit(e, item);
      e << YAML::EndSeq;
      return;
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) e << YAML::DoubleQuoted;
      e << s;
      return;
    }
    case Json::value_t::boolean: e << (v.get<bool>() ? "true" : "false"); return;
    case Json::value_t::null: e << YAML::Null; return;
    default: e << v.dump(); return;  // numbers: JSON's spelling is valid YAML
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
      // Find where this value ends by bracket depth, outside string literals.
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
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
          if (depth == 0) break;
          if (--depth == 0) { ++end; break; }
        }
      }
      auto doc = crypto::ParseJsonStrict(text.substr(pos, end - pos));
      if (!doc.ok()) {
        return InvalidArgument(source + ": document " + std::to_string(docs.size() + 1) + ": " + doc.status().message());
      }
      if (!doc->is_object()) {
        return InvalidArgument(source + ": document " + std::to_string(docs.size() + 1) + " is not a JSON object");
      }
      EXECGOV_RETURN_IF_ERROR(
          ExpandList(std::move(doc).value(), source + ": document " + std::to_string(docs.size() + 1), &docs));
      pos = end;
    }
    return docs;
  }
  std::vector<YAML::Node> nodes;
  try {
    const std::string owned(text);
    EXECGOV_RETURN_IF_ERROR(CheckDocumentsEnd(owned, source));
    nodes = YAML::LoadAll(owned);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  int index = 0;
  for (const auto& node : nodes) {
    ++index;
    if (node.IsNull()) continue;
    Json doc;
    Status st = ToJson(node, &doc, source + ": document " + std::to_string(index));
    if (!st.ok()) return st;
    if (!doc.is_object()) {
      return InvalidArgument(source + ": document " + std::to_string(index) + " is not a mapping (a Kubernetes object)");
    }
    EXECGOV_RETURN_IF_ERROR(ExpandList(std::move(doc), source + ": document " + std::to_string(index), &docs));
  }
  return docs;
}

std::string EmitYaml(const std::vector<Json>& docs) {
  std::string out;
  for (size_t i = 0; i < docs.size(); ++i) {
    YAML::Emitter e;
    e.SetIndent(2);
    e.SetSeqFormat(YAML::Block);
    Emit(e, docs[i]);
    if (i > 0) out += "---\n";
    out += e.c_str();
    out += "\n";
  }
  return out;
}

}  // namespace execgov::api
