#include "console/health.h"

#include <charconv>
#include <cmath>
#include <regex>

#include "core/clock.h"

namespace execgov::console {

using nlohmann::json;

StatusOr<HealthTarget> ParseHealthTarget(const std::string& flag) {
  size_t eq = flag.find('=');
  if (eq == std::string::npos) return InvalidArgument("--metrics takes NAME=URL, as webhook=http://127.0.0.1:8080");
  HealthTarget t{flag.substr(0, eq), flag.substr(eq + 1)};
  static const std::regex kName("^[a-z][a-z0-9-]{0,31}$");
  if (!std::regex_match(t.name, kName)) return InvalidArgument("--metrics: the name must be a short lower-case word");
  if (t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0) {
    return InvalidArgument("--metrics " + t.name + ": the URL must be http:// or https://");
  }
  if (t.url.size() > 512) return InvalidArgument("--metrics: the URL is too long");
  while (!t.url.empty() && t.url.back() == '/') t.url.pop_back();
  return t;
}

json ParsePrometheusText(std::string_view text) {
  json out = json::array();
  while (!text.empty() && out.size() < kMaxSamples) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.rfind("execgov_", 0) != 0) continue;
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos) continue;
    json sample = {{"name", std::string(line.substr(0, name_end))}, {"labels", json::object()}};
    std::string_view rest = line.substr(name_end);
    if (rest[0] == '{') {
      size_t close = rest.find("} ");
      if (close == std::string_view::npos) continue;
      std::string_view labels = rest.substr(1, close - 1);
      rest = rest.substr(close + 1);
      // name="value",... (values as execgov writes them: no escaped quotes
      // in the names it uses; a label that does not parse ends the labels).
      while (!labels.empty()) {
        size_t q1 = labels.find("=\"");
        if (q1 == std::string_view::npos) break;
        size_t q2 = labels.find('"', q1 + 2);
        if (q2 == std::string_view::npos) break;
        sample["labels"][std::string(labels.substr(0, q1))] = std::string(labels.substr(q1 + 2, q2 - q1 - 2));
        labels = labels.substr(std::min(labels.size(), q2 + 2));
      }
    }
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::string value(rest.substr(0, rest.find(' ')));
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || std::isnan(v)) continue;
    sample["value"] = std::isinf(v) ? json(v > 0 ? "+Inf" : "-Inf") : json(v);
    out.push_back(std::move(sample));
  }
  return out;
}

StatusOr<std::unique_ptr<HealthScraper>> HealthScraper::Create(std::vector<HealthTarget> targets) {
  if (targets.size() > kMaxHealthTargets) return InvalidArgument("at most 8 --metrics targets");
  auto s = std::make_unique<HealthScraper>();
  for (auto& t : targets) {
    kube::HttpConfig c;
    c.base_url = t.url;
    c.timeout = std::chrono::milliseconds(2000);
    c.user_agent = "execgov-console";
    EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewHttpClient(c));
    s->targets_.push_back({std::move(t), std::move(client)});
  }
  return s;
}

json HealthScraper::Scrape() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!cached_.is_null() && now - last_ < std::chrono::seconds(1)) return cached_;
  json targets = json::array();
  for (auto& t : targets_) {
    json out = {{"name", t.config.name}, {"url", t.config.url}, {"ready", nullptr}, {"samples", json::array()}};
    auto ready = t.client->Request("GET", "/readyz");
    if (ready.ok()) {
      out["ready"] = ready->status == 200;
    } else {
      out["error"] = ready.status().message();
    }
    auto metrics = t.client->Request("GET", "/metrics");
    if (metrics.ok() && metrics->status == 200) {
      std::string_view body = metrics->body;
      out["samples"] = ParsePrometheusText(body.substr(0, kMaxMetricsBytes));
    } else if (!out.contains("error")) {
      out["error"] = metrics.ok() ? "/metrics answered " + std::to_string(metrics->status) : metrics.status().message();
    }
    targets.push_back(std::move(out));
  }
  cached_ = {{"time", FormatRfc3339(std::chrono::system_clock::now())}, {"targets", targets}};
  last_ = now;
  return cached_;
}

}  // namespace execgov::console
