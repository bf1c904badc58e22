#include "tls/certificate_authority.h"

#include <gtest/gtest.h>

namespace execgov::tls {
namespace {

using std::chrono::hours;
constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15

TEST(CertificateAuthorityTest, IssuesServingCertificatesItsCertificateVerifies) {
  auto ca = CreateCertificateAuthority("test CA", kNow, hours(24 * 365));
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  auto serving = IssueServingCertificate(*ca, {"execgov-webhook.execgov-system.svc", "127.0.0.1", "::1"}, kNow, hours(24));
  ASSERT_TRUE(serving.ok()) << serving.status().message();
  EXPECT_TRUE(IsSignedBy(serving->cert_pem, ca->cert_pem));
  EXPECT_TRUE(IsSignedBy(ca->cert_pem, ca->cert_pem));  // self-signed
  EXPECT_NE(serving->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);

  auto info = InspectCertificate(serving->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->not_after, kNow + 24 * 3600);
  EXPECT_EQ(info->not_before, kNow - 300);  // tolerates clocks a little behind
  EXPECT_EQ(info->hosts, (std::vector<std::string>{"execgov-webhook.execgov-system.svc", "127.0.0.1", "::1"}));
  EXPECT_EQ(info->sha256_hex.size(), 64u);
}

TEST(CertificateAuthorityTest, AnotherCaDoesNotVerify) {
  auto ca = CreateCertificateAuthority("a", kNow, hours(24));
  auto other = CreateCertificateAuthority("b", kNow, hours(24));
  ASSERT_TRUE(ca.ok() && other.ok());
  auto serving = IssueServingCertificate(*ca, {"localhost"}, kNow, hours(1));
  ASSERT_TRUE(serving.ok());
  EXPECT_FALSE(IsSignedBy(serving->cert_pem, other->cert_pem));
  EXPECT_FALSE(IsSignedBy("not pem", ca->cert_pem));
  auto fingerprint_a = InspectCertificate(ca->cert_pem), fingerprint_b = InspectCertificate(other->cert_pem);
  EXPECT_NE(fingerprint_a->sha256_hex, fingerprint_b->sha256_hex);
}

TEST(CertificateAuthorityTest, RefusesMismatchedOrMalformedInput) {
  auto ca = CreateCertificateAuthority("a", kNow, hours(24));
  auto other = CreateCertificateAuthority("b", kNow, hours(24));
  ASSERT_TRUE(ca.ok() && other.ok());
  CertificateAndKey mixed{ca->cert_pem, other->key_pem};
  auto st = IssueServingCertificate(mixed, {"localhost"}, kNow, hours(1));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("does not match"), std::string::npos);
  EXPECT_FALSE(IssueServingCertificate({"x", "y"}, {"localhost"}, kNow, hours(1)).ok());
  EXPECT_FALSE(InspectCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
}

}  // namespace
}  // namespace execgov::tls
