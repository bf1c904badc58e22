#include "policy/label_selector.h"

#include <algorithm>

namespace execgov::policy {

StatusOr<LabelSelector> LabelSelector::FromJson(const nlohmann::json& sel, const std::string& field) {
  LabelSelector out;
  if (sel.is_null()) return out;
  if (!sel.is_object()) return InvalidArgument(field + ": must be a label selector object");
  for (auto it = sel.begin(); it != sel.end(); ++it) {
    if (it.key() != "matchLabels" && it.key() != "matchExpressions") {
      return InvalidArgument(field + ": unknown field \"" + it.key() + "\"");
    }
  }
  if (sel.contains("matchLabels") && !sel["matchLabels"].is_null()) {
    const auto& ml = sel["matchLabels"];
    if (!ml.is_object()) return InvalidArgument(field + ".matchLabels: must be a map of strings");
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      if (!it.value().is_string()) return InvalidArgument(field + ".matchLabels." + it.key() + ": must be a string");
      out.requirements_.push_back({it.key(), Requirement::Op::kIn, {it.value().get<std::string>()}});
    }
  }
  if (sel.contains("matchExpressions") && !sel["matchExpressions"].is_null()) {
    const auto& me = sel["matchExpressions"];
    if (!me.is_array()) return InvalidArgument(field + ".matchExpressions: must be a list");
    for (size_t i = 0; i < me.size(); ++i) {
      std::string f = field + ".matchExpressions[" + std::to_string(i) + "]";
      const auto& e = me[i];
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("operator") ||
          !e["operator"].is_string()) {
        return InvalidArgument(f + ": needs a key and an operator");
      }
      Requirement r;
      r.key = e["key"].get<std::string>();
      std::string op = e["operator"].get<std::string>();
      if (op == "In") r.op = Requirement::Op::kIn;
      else if (op == "NotIn") r.op = Requirement::Op::kNotIn;
      else if (op == "Exists") r.op = Requirement::Op::kExists;
      else if (op == "DoesNotExist") r.op = Requirement::Op::kDoesNotExist;
      else return InvalidArgument(f + ".operator: \"" + op + "\" is not In, NotIn, Exists or DoesNotExist");
      if (e.contains("values") && !e["values"].is_null()) {
        if (!e["values"].is_array()) return InvalidArgument(f + ".values: must be a list of strings");
        for (const auto& v : e["values"]) {
          if (!v.is_string()) return InvalidArgument(f + ".values: must be a list of strings");
          r.values.push_back(v.get<std::string>());
        }
      }
      bool set_op = r.op == Requirement::Op::kIn || r.op == Requirement::Op::kNotIn;
      if (set_op && r.values.empty()) return InvalidArgument(f + ".values: must not be empty for " + op);
      if (!set_op && !r.values.empty()) return InvalidArgument(f + ".values: must be empty for " + op);
      out.requirements_.push_back(std::move(r));
    }
  }
  return out;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : requirements_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    bool in = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case Requirement::Op::kIn: if (!in) return false; break;
      case Requirement::Op::kNotIn: if (in) return false; break;
      case Requirement::Op::kExists: if (!has) return false; break;
      case Requirement::Op::kDoesNotExist: if (has) return false; break;
    }
  }
  return true;
}

}  // namespace execgov::policy
