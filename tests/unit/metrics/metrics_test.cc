#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "core/log.h"

namespace execgov::metrics {
namespace {

// The value on the exposition line "NAME VALUE", or -1 when there is none.
double ValueOf(const std::string& text, const std::string& name) {
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST(MetricsTest, LogLinesLeftOutFollowTheLog) {
  Metrics m;
  double before = ValueOf(m.Serialize(), "execgov_log_lines_left_out_total");
  ASSERT_GE(before, 0);
  EXPECT_NE(m.Serialize().find("# TYPE execgov_log_lines_left_out_total counter"), std::string::npos);

  log::SetMaxQueuedForTest(0);  // every line is left out
  for (int i = 0; i < 7; ++i) log::Info("left out");
  log::SetMaxQueuedForTest(log::kMaxQueuedBytes);

  EXPECT_EQ(ValueOf(m.Serialize(), "execgov_log_lines_left_out_total"), before + 7);
}

TEST(MetricsTest, RecordedValuesAreExposed) {
  Metrics m;
  m.SetPoliciesLoaded(3);
  m.RecordPolicyReloadError();
  std::string text = m.Serialize();
  EXPECT_EQ(ValueOf(text, "execgov_policies_loaded"), 3);
  EXPECT_EQ(ValueOf(text, "execgov_policy_reload_errors_total"), 1);
}

TEST(MetricsTest, CertificateNotAfterIsPerServerAndFollowsAReload) {
  Metrics m;
  EXPECT_EQ(m.Serialize().find("execgov_tls_certificate_not_after_seconds{"), std::string::npos);
  m.SetCertificateNotAfter("webhook", 1800000000);
  EXPECT_EQ(ValueOf(m.Serialize(), "execgov_tls_certificate_not_after_seconds{server=\"webhook\"}"), 1800000000);
  m.SetCertificateNotAfter("webhook", 1900000000);  // a rotated certificate replaces the value
  std::string text = m.Serialize();
  EXPECT_EQ(ValueOf(text, "execgov_tls_certificate_not_after_seconds{server=\"webhook\"}"), 1900000000);
  EXPECT_NE(text.find("# TYPE execgov_tls_certificate_not_after_seconds gauge"), std::string::npos);
}

}  // namespace
}  // namespace execgov::metrics
