// The health dashboard's inputs: --metrics flags and the execgov_* samples
// of a Prometheus text exposition.
#include "console/health.h"

#include <gtest/gtest.h>

namespace execgov::console {
namespace {

TEST(ConsoleHealthTest, TargetsAreNameEqualsHttpUrl) {
  auto t = ParseHealthTarget("webhook=http://127.0.0.1:8080/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name, "webhook");
  EXPECT_EQ(t->url, "http://127.0.0.1:8080");
  EXPECT_FALSE(ParseHealthTarget("http://127.0.0.1:8080").ok());
  EXPECT_FALSE(ParseHealthTarget("web hook=http://x").ok());
  EXPECT_FALSE(ParseHealthTarget("webhook=file:///etc/passwd").ok());
  EXPECT_FALSE(ParseHealthTarget("webhook=http://" + std::string(600, 'a')).ok());
  std::vector<HealthTarget> many(kMaxHealthTargets + 1, HealthTarget{"a", "http://127.0.0.1:1"});
  EXPECT_FALSE(HealthScraper::Create(many).ok());
}

TEST(ConsoleHealthTest, OnlyExecgovSamplesAreKept) {
  auto s = ParsePrometheusText(
      "# HELP execgov_admission_requests_total Admission requests\n"
      "# TYPE execgov_admission_requests_total counter\n"
      "execgov_admission_requests_total{decision=\"denied\",kind=\"Job\",reason=\"MissingArtifact\"} 3\n"
      "execgov_admission_duration_seconds_bucket{le=\"+Inf\"} 5\n"
      "execgov_ledger_head_sequence 41\n"
      "process_cpu_seconds_total 12\n"
      "execgov_broken{decision=\"x\"\n"
      "execgov_not_a_number 1e\n");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0]["labels"]["reason"], "MissingArtifact");
  EXPECT_EQ(s[0]["value"], 3.0);
  EXPECT_EQ(s[1]["labels"]["le"], "+Inf");
  EXPECT_EQ(s[2]["name"], "execgov_ledger_head_sequence");
  std::string big;
  for (size_t i = 0; i < kMaxSamples + 10; ++i) big += "execgov_x " + std::to_string(i) + "\n";
  EXPECT_EQ(ParsePrometheusText(big).size(), kMaxSamples);
}

}  // namespace
}  // namespace execgov::console
