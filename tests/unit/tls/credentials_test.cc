// The serving credentials' notAfter: reported when loaded and again after a
// rotation, which is what execgov_tls_certificate_not_after_seconds follows.
#include "tls/credentials.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "tls/certificate_authority.h"

namespace execgov::tls {
namespace {

using std::chrono::hours;
constexpr int64_t kNow = 1'800'000'000;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-credentials-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto ca = CreateCertificateAuthority("test CA", kNow, hours(24 * 365));
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes a serving pair valid for `validity` from kNow; returns its notAfter.
  int64_t WritePair(hours validity) {
    auto pair = IssueServingCertificate(ca_, {"127.0.0.1"}, kNow, validity);
    EXPECT_TRUE(pair.ok());
    std::ofstream(dir_ + "/tls.crt", std::ios::trunc) << pair->cert_pem;
    std::ofstream(dir_ + "/tls.key", std::ios::trunc) << pair->key_pem;
    return kNow + validity.count() * 3600;
  }
  TlsOptions Options() const {
    TlsOptions o{dir_ + "/tls.crt", dir_ + "/tls.key", ""};
    o.recheck_interval = std::chrono::milliseconds(0);  // look at the files on every connection
    return o;
  }

  std::string dir_;
  CertificateAndKey ca_;
};

TEST_F(CredentialsTest, NotAfterIsReportedOnLoadAndAfterARotation) {
  int64_t first = WritePair(hours(24));
  std::vector<int64_t> seen;
  auto store = CredentialStore::Open(Options(), [&seen](int64_t t) { seen.push_back(t); });
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(seen, std::vector<int64_t>{first});
  EXPECT_EQ((*store)->not_after(), first);

  // A connection with nothing changed reloads nothing and reports nothing.
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_TRUE((*store)->Configure(ctx).ok());
  SSL_CTX_free(ctx);
  EXPECT_EQ(seen.size(), 1u);

  int64_t second = WritePair(hours(24 * 90));
  ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_TRUE((*store)->Configure(ctx).ok());
  SSL_CTX_free(ctx);
  EXPECT_EQ((*store)->reloads(), 1);
  EXPECT_EQ(seen, (std::vector<int64_t>{first, second}));
  EXPECT_EQ((*store)->not_after(), second);
}

TEST_F(CredentialsTest, AHalfWrittenRotationKeepsTheOldCertificateAndReportsNothing) {
  int64_t first = WritePair(hours(24));
  std::vector<int64_t> seen;
  auto store = CredentialStore::Open(Options(), [&seen](int64_t t) { seen.push_back(t); });
  ASSERT_TRUE(store.ok());
  std::ofstream(dir_ + "/tls.crt", std::ios::trunc) << "-----BEGIN CERTIFICATE-----\n";
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  EXPECT_TRUE((*store)->Configure(ctx).ok());
  SSL_CTX_free(ctx);
  EXPECT_EQ(seen, std::vector<int64_t>{first});
  EXPECT_EQ((*store)->not_after(), first);
}

}  // namespace
}  // namespace execgov::tls
