// The health dashboard's data (issue 22): the console scrapes the ops ports
// of the webhook and the operator it was pointed at (--metrics NAME=URL),
// their /readyz and the execgov_* samples of their /metrics, and hands them
// to the browser as JSON. Charts and rates are the browser's.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/http.h"

namespace execgov::console {

// At most this many targets, samples kept per target, and bytes read of a
// /metrics answer.
inline constexpr size_t kMaxHealthTargets = 8;
inline constexpr size_t kMaxSamples = 5000;
inline constexpr size_t kMaxMetricsBytes = 4u << 20;

struct HealthTarget {
  std::string name;  // "webhook", "operator", ...
  std::string url;   // the ops port's base: http://HOST:PORT
};

// "NAME=URL" -> target; InvalidArgument unless NAME is a short word and URL
// an http:// or https:// base.
StatusOr<HealthTarget> ParseHealthTarget(const std::string& flag);

// The execgov_* samples of a Prometheus text exposition: [{"name", "labels":
// {...}, "value"}], at most kMaxSamples; malformed lines are skipped.
nlohmann::json ParsePrometheusText(std::string_view text);

class HealthScraper {
 public:
  static StatusOr<std::unique_ptr<HealthScraper>> Create(std::vector<HealthTarget> targets);
  // {"time", "targets": [{"name", "url", "ready" (bool or null), "error",
  // "samples"}]}; answers at most once a second per scrape, from a cache
  // otherwise, so the browser's polling cannot turn the console into a
  // load on the ops ports. Thread-safe.
  nlohmann::json Scrape();

 private:
  struct Target {
    HealthTarget config;
    std::unique_ptr<kube::HttpClient> client;
  };
  std::vector<Target> targets_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};
  nlohmann::json cached_;
};

}  // namespace execgov::console
