#include "webhook/break_glass_index.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/json_fast.h"
#include "ledger/record.h"

namespace execgov::webhook {

BreakGlassIndex::BreakGlassIndex(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void BreakGlassIndex::Observe(std::string_view record) {
  // Most records are not break-glass: decided on the bytes, unparsed.
  if (record.find("\"breakGlass\":{") == std::string_view::npos) return;
  // Records from a store other writers share are read here before anything
  // else has judged them: bounded before a recursive parse.
  if (record.size() > ledger::kMaxRecordBytes || !CheckJsonLimits(record).ok()) return;
  auto r = nlohmann::json::parse(record.begin(), record.end(), nullptr, false);
  if (!r.is_object()) return;
  auto str = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto object = r.find("object");
  auto bg = r.find("breakGlass");
  if (object == r.end() || !object->is_object() || bg == r.end() || !bg->is_object()) return;
  if (str(r, "type") != "admission" || str(r, "decision") != "allowed") return;
  if (str(*object, "kind") != "Job" || str(*object, "operation") != "CREATE") return;
  const std::string uid = str(*object, "uid");
  Entry e{str(*bg, "policy"), str(*bg, "group")};
  if (uid.empty() || e.policy.empty() || e.group.empty()) return;
  Note(uid, std::move(e));
}

void BreakGlassIndex::Note(const std::string& job_uid, Entry entry) {
  if (job_uid.empty()) return;
  std::lock_guard lock(mu_);
  auto [it, inserted] = by_uid_.insert_or_assign(job_uid, std::move(entry));
  (void)it;
  if (!inserted) return;
  order_.push_back(job_uid);
  while (by_uid_.size() > capacity_ && !order_.empty()) {
    by_uid_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<BreakGlassIndex::Entry> BreakGlassIndex::Find(const std::string& job_uid) const {
  std::lock_guard lock(mu_);
  auto it = by_uid_.find(job_uid);
  if (it == by_uid_.end()) return std::nullopt;
  return it->second;
}

size_t BreakGlassIndex::size() const {
  std::lock_guard lock(mu_);
  return by_uid_.size();
}

}  // namespace execgov::webhook
