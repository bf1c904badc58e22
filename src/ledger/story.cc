#include "ledger/story.h"

namespace execgov::ledger {
namespace {

std::string StringAt(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  if (!j.is_object()) return {};
  auto it = j.find(a);
  if (it == j.end()) return {};
  if (b) {
    if (!it->is_object()) return {};
    auto in = it->find(b);
    if (in == it->end()) return {};
    it = in;
  }
  return it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string StoryUid(const nlohmann::json& record) { return StringAt(record, "object", "uid"); }

std::string StoryJti(const nlohmann::json& record) {
  std::string jti = StringAt(record, "artifact", "jti");
  if (jti.empty() && StringAt(record, "type") == "grant") jti = StringAt(record, "jti");
  return jti;
}

bool StoryFollows(const nlohmann::json& record) { return StringAt(record, "decision") != "denied"; }

}  // namespace execgov::ledger
