#include "controllers/status_conditions.h"

#include "core/clock.h"

namespace execgov::controllers {

const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool SetCondition(nlohmann::json& conditions, const Condition& c, std::chrono::system_clock::time_point now) {
  if (!conditions.is_array()) conditions = nlohmann::json::array();
  nlohmann::json want = {{"type", c.type},
                         {"status", c.status},
                         {"reason", c.reason},
                         {"message", c.message},
                         {"observedGeneration", c.observed_generation}};
  for (auto& existing : conditions) {
    if (!existing.is_object() || existing.value("type", "") != c.type) continue;
    bool same_status = existing.value("status", "") == c.status;
    want["lastTransitionTime"] = same_status && existing.contains("lastTransitionTime")
                                     ? existing["lastTransitionTime"]
                                     : nlohmann::json(FormatRfc3339(now));
    if (existing == want) return false;
    existing = std::move(want);
    return true;
  }
  want["lastTransitionTime"] = FormatRfc3339(now);
  conditions.push_back(std::move(want));
  return true;
}

}  // namespace execgov::controllers
