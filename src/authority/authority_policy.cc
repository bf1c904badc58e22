#include "authority/authority_policy.h"

#include <algorithm>
#include <array>

#include "api/object.h"
#include "core/clock.h"
#include "policy/glob.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

constexpr size_t kMaxRules = 64;
constexpr size_t kMaxListItems = 64;
constexpr int64_t kMaxTimeoutSeconds = 7 * 24 * 3600;
constexpr int64_t kMaxTTLSeconds = 7 * 24 * 3600;
constexpr std::array<const char*, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

Status FieldError(const std::string& field, const std::string& why) { return InvalidArgument(field + ": " + why); }

Status CheckKnown(const json& obj, const std::string& field, std::initializer_list<const char*> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; })) {
      return FieldError(field + "." + it.key(), "unknown field");
    }
  }
  return Status::Ok();
}

// A list of at most kMaxListItems non-empty strings of at most 253 bytes;
// with `globs`, each a valid glob.
StatusOr<std::vector<std::string>> Strings(const json& obj, const char* key, const std::string& field, bool globs) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  const std::string f = field + "." + key;
  if (!it->is_array()) return FieldError(f, "must be a list of strings");
  if (it->size() > kMaxListItems) return FieldError(f, "lists more than " + std::to_string(kMaxListItems) + " items");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty() || v.get_ref<const std::string&>().size() > 253) {
      return FieldError(f, "each item must be a string of 1 to 253 characters");
    }
    if (globs && !policy::IsValidGlob(v.get<std::string>())) {
      return FieldError(f, "\"" + v.get<std::string>() + "\" is not a valid glob (only * and ? are special)");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

StatusOr<int64_t> Seconds(const json& obj, const char* key, const std::string& field, int64_t fallback,
                          int64_t max_seconds) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  const std::string f = field + "." + key;
  if (!it->is_string()) return FieldError(f, "must be a duration such as \"10m\"");
  auto d = ParseDuration(it->get<std::string>());
  if (!d || d->count() < 1000) return FieldError(f, "\"" + it->get<std::string>() + "\" is not a duration of at least 1s");
  const int64_t secs = d->count() / 1000;
  if (secs > max_seconds) return FieldError(f, "is longer than " + std::to_string(max_seconds) + "s");
  return secs;
}

StatusOr<int> MinuteOfDay(const json& w, const char* key, const std::string& field, int fallback) {
  auto it = w.find(key);
  if (it == w.end() || it->is_null()) return fallback;
  const std::string f = field + "." + key;
  const std::string text = it->is_string() ? it->get<std::string>() : "";
  // HH:MM, 00:00 to 24:00.
  if (text.size() != 5 || text[2] != ':' || !isdigit(text[0]) || !isdigit(text[1]) || !isdigit(text[3]) ||
      !isdigit(text[4])) {
    return FieldError(f, "must be a time of day HH:MM (UTC)");
  }
  const int h = (text[0] - '0') * 10 + (text[1] - '0'), m = (text[3] - '0') * 10 + (text[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return FieldError(f, "\"" + text + "\" is not a time of day");
  return h * 60 + m;
}

StatusOr<AuthorityRule> CompileRule(const json& r, const std::string& field) {
  if (!r.is_object()) return FieldError(field, "must be an object");
  EXECGOV_RETURN_IF_ERROR(
      CheckKnown(r, field, {"name", "match", "action", "approvals", "ttl", "timeout", "rateLimit", "timeWindows"}));
  AuthorityRule rule;
  auto name = r.find("name");
  if (name == r.end() || !name->is_string() || !api::IsDns1123Subdomain(name->get<std::string>()) ||
      name->get_ref<const std::string&>().size() > 63) {
    return FieldError(field + ".name", "is required: lowercase letters, digits and '-', at most 63 characters");
  }
  rule.name = name->get<std::string>();
  rule.kinds = {"ExecutionRequest"};
  if (auto m = r.find("match"); m != r.end() && !m->is_null()) {
    const std::string mf = field + ".match";
    if (!m->is_object()) return FieldError(mf, "must be an object");
    EXECGOV_RETURN_IF_ERROR(CheckKnown(*m, mf, {"namespaces", "initiators", "serviceAccounts", "images", "kinds"}));
    EXECGOV_ASSIGN_OR_RETURN(rule.namespaces, Strings(*m, "namespaces", mf, true));
    EXECGOV_ASSIGN_OR_RETURN(rule.initiators, Strings(*m, "initiators", mf, true));
    EXECGOV_ASSIGN_OR_RETURN(std::vector<std::string> sas, Strings(*m, "serviceAccounts", mf, true));
    for (const auto& sa : sas) {
      auto slash = sa.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == sa.size() || sa.find('/', slash + 1) != std::string::npos) {
        return FieldError(mf + ".serviceAccounts", "\"" + sa + "\" is not NAMESPACE/NAME");
      }
      rule.initiators.push_back("system:serviceaccount:" + sa.substr(0, slash) + ":" + sa.substr(slash + 1));
    }
    EXECGOV_ASSIGN_OR_RETURN(rule.images, Strings(*m, "images", mf, true));
    EXECGOV_ASSIGN_OR_RETURN(std::vector<std::string> kinds, Strings(*m, "kinds", mf, false));
    if (!kinds.empty()) {
      rule.kinds.clear();
      for (const auto& k : kinds) {
        if (!api::ParseGovernedKind(k)) return FieldError(mf + ".kinds", "\"" + k + "\" is not Pod, Job or ExecutionRequest");
        rule.kinds.insert(k);
      }
    }
  }
  auto action = r.find("action");
  const std::string action_text = action != r.end() && action->is_string() ? action->get<std::string>() : "";
  if (action_text == "AutoApprove") rule.action = Action::kAutoApprove;
  else if (action_text == "AutoDeny") rule.action = Action::kAutoDeny;
  else if (action_text == "RequireApprovals") rule.action = Action::kRequireApprovals;
  else return FieldError(field + ".action", "must be AutoApprove, AutoDeny or RequireApprovals");
  auto approvals = r.find("approvals");
  const bool has_approvals = approvals != r.end() && !approvals->is_null();
  if (rule.action == Action::kRequireApprovals) {
    const std::string af = field + ".approvals";
    if (!has_approvals || !approvals->is_object()) return FieldError(af, "is required for RequireApprovals: {count, groups}");
    EXECGOV_RETURN_IF_ERROR(CheckKnown(*approvals, af, {"count", "groups"}));
    auto count = approvals->find("count");
    if (count == approvals->end() || !count->is_number_integer() || *count < 1 || *count > 10) {
      return FieldError(af + ".count", "must be an integer from 1 to 10");
    }
    rule.approvals = count->get<int>();
    EXECGOV_ASSIGN_OR_RETURN(rule.approver_groups, Strings(*approvals, "groups", af, false));
    if (rule.approver_groups.empty()) return FieldError(af + ".groups", "must name at least one group of approvers");
  } else if (has_approvals) {
    return FieldError(field + ".approvals", "applies only to RequireApprovals");
  }
  EXECGOV_ASSIGN_OR_RETURN(rule.ttl_seconds, Seconds(r, "ttl", field, 600, kMaxTTLSeconds));
  EXECGOV_ASSIGN_OR_RETURN(rule.timeout_seconds, Seconds(r, "timeout", field, 3600, kMaxTimeoutSeconds));
  if (auto rl = r.find("rateLimit"); rl != r.end() && !rl->is_null()) {
    const std::string rf = field + ".rateLimit";
    if (!rl->is_object()) return FieldError(rf, "must be an object {count, per}");
    EXECGOV_RETURN_IF_ERROR(CheckKnown(*rl, rf, {"count", "per"}));
    auto count = rl->find("count");
    if (count == rl->end() || !count->is_number_integer() || *count < 1 || *count > 100000) {
      return FieldError(rf + ".count", "must be an integer from 1 to 100000");
    }
    rule.rate_count = count->get<int>();
    if (!rl->contains("per")) return FieldError(rf + ".per", "is required (a duration such as \"1h\")");
    EXECGOV_ASSIGN_OR_RETURN(rule.rate_per_seconds, Seconds(*rl, "per", rf, 0, kMaxTimeoutSeconds));
  }
  if (auto tw = r.find("timeWindows"); tw != r.end() && !tw->is_null()) {
    const std::string tf = field + ".timeWindows";
    if (!tw->is_array() || tw->size() > 16) return FieldError(tf, "must be a list of at most 16 windows");
    for (size_t i = 0; i < tw->size(); ++i) {
      const json& w = (*tw)[i];
      const std::string wf = tf + "[" + std::to_string(i) + "]";
      if (!w.is_object()) return FieldError(wf, "must be an object {days, start, end}");
      EXECGOV_RETURN_IF_ERROR(CheckKnown(w, wf, {"days", "start", "end"}));
      TimeWindow window;
      EXECGOV_ASSIGN_OR_RETURN(std::vector<std::string> days, Strings(w, "days", wf, false));
      for (const auto& d : days) {
        auto at = std::find(kDays.begin(), kDays.end(), d);
        if (at == kDays.end()) return FieldError(wf + ".days", "\"" + d + "\" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun");
        window.days.insert(static_cast<int>(at - kDays.begin()));
      }
      if (window.days.empty()) window.days = {0, 1, 2, 3, 4, 5, 6};
      EXECGOV_ASSIGN_OR_RETURN(window.start_minute, MinuteOfDay(w, "start", wf, 0));
      EXECGOV_ASSIGN_OR_RETURN(window.end_minute, MinuteOfDay(w, "end", wf, 1440));
      if (window.start_minute >= window.end_minute) return FieldError(wf, "start must be before end (UTC, within one day)");
      rule.windows.push_back(std::move(window));
    }
  }
  return rule;
}

bool AnyGlob(const std::vector<std::string>& globs, const std::string& text) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return policy::GlobMatch(g, text); });
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAutoApprove: return "AutoApprove";
    case Action::kAutoDeny: return "AutoDeny";
    case Action::kRequireApprovals: return "RequireApprovals";
  }
  return "RequireApprovals";
}

StatusOr<std::shared_ptr<const CompiledAuthorityPolicy>> CompileAuthorityPolicy(const json& obj) {
  if (!obj.is_object()) return InvalidArgument("an AuthorityPolicy must be an object");
  auto p = std::make_shared<CompiledAuthorityPolicy>();
  p->name = api::NameOf(obj);
  const std::string prefix = "AuthorityPolicy " + (p->name.empty() ? std::string("<unnamed>") : p->name) + ": ";
  auto wrap = [&](const Status& st) { return InvalidArgument(prefix + st.message()); };
  if (api::KindOf(obj) != "AuthorityPolicy") return wrap(FieldError("kind", "must be AuthorityPolicy"));
  if (p->name.empty()) return wrap(FieldError("metadata.name", "is required"));
  if (auto g = obj["metadata"].find("generation"); g != obj["metadata"].end() && g->is_number_integer()) {
    p->generation = g->get<int64_t>();
  }
  auto spec = obj.find("spec");
  if (spec == obj.end() || !spec->is_object()) return wrap(FieldError("spec", "is required"));
  if (Status st = CheckKnown(*spec, "spec", {"rules"}); !st.ok()) return wrap(st);
  auto rules = spec->find("rules");
  if (rules == spec->end() || !rules->is_array() || rules->empty() || rules->size() > kMaxRules) {
    return wrap(FieldError("spec.rules", "must list 1 to " + std::to_string(kMaxRules) + " rules"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string field = "spec.rules[" + std::to_string(i) + "]";
    auto rule = CompileRule((*rules)[i], field);
    if (!rule.ok()) return wrap(rule.status());
    if (!names.insert(rule->name).second) return wrap(FieldError(field + ".name", "\"" + rule->name + "\" is used twice"));
    p->rules.push_back(std::move(rule).value());
  }
  return std::shared_ptr<const CompiledAuthorityPolicy>(std::move(p));
}

bool RuleSelects(const AuthorityRule& rule, const AuthorityRequest& request) {
  if (!rule.kinds.count(request.kind)) return false;
  if (!rule.namespaces.empty() && !AnyGlob(rule.namespaces, request.ns)) return false;
  if (!rule.initiators.empty() && !AnyGlob(rule.initiators, request.initiator)) return false;
  if (rule.images.empty()) return true;
  auto listed = [&](const std::string& image) { return AnyGlob(rule.images, image); };
  // Each reading is the cautious one: a refusal catches a request with any
  // listed image, a grant (or a hold) needs every image listed.
  return rule.action == Action::kAutoDeny ? std::any_of(request.images.begin(), request.images.end(), listed)
                                          : std::all_of(request.images.begin(), request.images.end(), listed);
}

bool WindowOpen(const AuthorityRule& rule, int64_t now) {
  if (rule.windows.empty()) return true;
  if (now < 0) return false;
  const int64_t days_since_epoch = now / 86400;
  const int weekday = static_cast<int>((days_since_epoch + 3) % 7);  // 1970-01-01 was a Thursday (Mon = 0)
  const int minute = static_cast<int>((now % 86400) / 60);
  return std::any_of(rule.windows.begin(), rule.windows.end(), [&](const TimeWindow& w) {
    return w.days.count(weekday) && minute >= w.start_minute && minute < w.end_minute;
  });
}

std::optional<RuleMatch> MatchRule(const std::vector<std::shared_ptr<const CompiledAuthorityPolicy>>& policies,
                                   const AuthorityRequest& request, int64_t now) {
  for (const auto& p : policies) {
    for (const auto& rule : p->rules) {
      if (RuleSelects(rule, request) && WindowOpen(rule, now)) return RuleMatch{p.get(), &rule};
    }
  }
  return std::nullopt;
}

}  // namespace execgov::authority
