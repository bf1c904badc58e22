// WebhookCertificates against the real API server (the e2e fixture's): the
// CA and serving Secrets, the caBundle of a real ValidatingWebhookConfiguration
// and the rotation steps, driven by a FakeClock. The probe stands for the
// webhook replicas: the test says which certificate each serves (the e2e
// packaging_rotation test runs real replicas).
#include "controllers/webhook_certificates.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "crypto/encoding.h"
#include "kube/kubeconfig.h"
#include "tls/certificate_authority.h"

namespace execgov::controllers {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

class WebhookCertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("EXECGOV_TESTENV_DIR");
    ASSERT_NE(dir, nullptr) << "no control plane: EXECGOV_TESTENV_DIR is not set (run through ctest -L e2e)";
    auto config = kube::LoadKubeconfig(std::string(dir) + "/kubeconfig");
    ASSERT_TRUE(config.ok()) << config.status().message();
    auto client = kube::NewClient(*config);
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ = std::move(client).value();
    std::string id = std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : id) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-';
    ns_ = "e2e-certs-" + id.substr(0, 40);
    vwc_ = ns_;
    ASSERT_TRUE(client_->Create("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                      {"metadata", {{"name", ns_}}}}).ok());
    // A configuration that matches no namespace, so it never affects other tests.
    Json hook = {{"name", "validate.execgov.io"},
                 {"admissionReviewVersions", {"v1"}},
                 {"sideEffects", "NoneOnDryRun"},
                 {"failurePolicy", "Fail"},
                 {"clientConfig", {{"url", "https://127.0.0.1:1/validate"}}},
                 {"namespaceSelector", {{"matchLabels", {{"e2e-never", "true"}}}}},
                 {"rules", {{{"apiGroups", {""}}, {"apiVersions", {"v1"}}, {"resources", {"pods"}},
                             {"operations", {"CREATE"}}}}}};
    auto created = client_->Create(Vwcs(), {{"apiVersion", "admissionregistration.k8s.io/v1"},
                                            {"kind", "ValidatingWebhookConfiguration"},
                                            {"metadata", {{"name", vwc_}}},
                                            {"webhooks", {hook}}});
    ASSERT_TRUE(created.ok()) << created.status().message();
    options_.ns = ns_;
    options_.ca_secret = "execgov-webhook-ca";
    options_.tls_secret = "execgov-webhook-tls";
    options_.webhook_configuration = vwc_;
    options_.hosts = {"execgov-webhook." + ns_ + ".svc", "127.0.0.1"};
  }
  void TearDown() override {
    if (!client_) return;
    (void)client_->Delete(Vwcs() + "/" + vwc_);
    (void)client_->Delete("/api/v1/namespaces/" + ns_);
  }

  static std::string Vwcs() { return "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"; }
  Json Secret(const std::string& name) {
    auto s = client_->Get("/api/v1/namespaces/" + ns_ + "/secrets/" + name);
    return s.ok() ? *s : Json();
  }
  static std::string Field(const Json& secret, const char* key) {
    if (!secret.contains("data") || !secret["data"].contains(key)) return "";
    return crypto::Base64Decode(secret["data"][key].get<std::string>()).value_or("");
  }
  std::string Bundle() {
    auto v = client_->Get(Vwcs() + "/" + vwc_);
    if (!v.ok()) return "";
    return crypto::Base64Decode((*v)["webhooks"][0]["clientConfig"].value("caBundle", "")).value_or("");
  }
  static int Certs(const std::string& pem) {
    int n = 0;
    for (size_t p = pem.find("BEGIN CERTIFICATE"); p != std::string::npos; p = pem.find("BEGIN CERTIFICATE", p + 1)) ++n;
    return n;
  }
  // Runs passes until one asks to wait; returns that wait.
  seconds Settle(WebhookCertificates& certs) {
    for (int i = 0; i < 20; ++i) {
      auto next = certs.Reconcile();
      EXPECT_TRUE(next.ok()) << next.status().message();
      if (!next.ok() || next->count() > 0) return next.ok() ? *next : seconds(-1);
    }
    ADD_FAILURE() << "Reconcile never settled";
    return seconds(-1);
  }
  std::string ServingFingerprint() { return tls::InspectCertificate(Field(Secret("execgov-webhook-tls"), "tls.crt"))->sha256_hex; }

  std::unique_ptr<kube::Client> client_;
  std::string ns_, vwc_;
  WebhookCertificatesOptions options_;
  FakeClock clock_{1'800'000'000};
  std::vector<std::string> served_;  // what the "replicas" serve
  ServingProbe probe_ = [this]() -> StatusOr<std::vector<std::string>> { return served_; };
};

TEST_F(WebhookCertificatesTest, IssuesOnlyAfterTheApiServerTrustsTheCa) {
  WebhookCertificates certs(client_.get(), &clock_, options_, probe_);
  EXPECT_EQ(Settle(certs), seconds(5));  // the bundle is in place; the certificate waits for it to propagate
  std::string ca = Field(Secret("execgov-webhook-ca"), "ca.crt");
  ASSERT_FALSE(ca.empty());
  EXPECT_EQ(Bundle(), ca);
  EXPECT_TRUE(Secret("execgov-webhook-tls").is_null()) << "a serving certificate before the API server trusts its CA";

  clock_.Advance(seconds(5));
  seconds next = Settle(certs);
  Json tls = Secret("execgov-webhook-tls");
  ASSERT_FALSE(tls.is_null());
  EXPECT_EQ(tls["type"], "kubernetes.io/tls");
  EXPECT_TRUE(tls::IsSignedBy(Field(tls, "tls.crt"), ca));
  EXPECT_EQ(Field(tls, "ca.crt"), ca);
  auto info = tls::InspectCertificate(Field(tls, "tls.crt"));
  EXPECT_EQ(info->hosts, options_.hosts);
  // Steady state: the next pass is due when the certificate nears expiry.
  EXPECT_EQ(next, seconds(info->not_after - options_.cert_renew_before.count() - clock_.NowUnix()));
  EXPECT_EQ(Settle(certs), next);  // idempotent: nothing changes
}

TEST_F(WebhookCertificatesTest, ForcedRotationKeepsBothCasUntilEveryReplicaServesTheNewCertificate) {
  WebhookCertificates certs(client_.get(), &clock_, options_, probe_);
  Settle(certs);
  clock_.Advance(seconds(5));
  Settle(certs);
  std::string old_ca = Field(Secret("execgov-webhook-ca"), "ca.crt");
  std::string old_fp = ServingFingerprint();
  served_ = {old_fp, old_fp};

  auto patched = client_->Patch("/api/v1/namespaces/" + ns_ + "/secrets/execgov-webhook-ca",
                                {{"metadata", {{"annotations", {{"execgov.io/rotate", "1"}}}}}}, kube::PatchType::kMerge);
  ASSERT_TRUE(patched.ok()) << patched.status().message();
  clock_.Advance(seconds(60));
  EXPECT_EQ(Settle(certs), seconds(5));
  Json ca_secret = Secret("execgov-webhook-ca");
  std::string new_ca = Field(ca_secret, "ca.crt");
  EXPECT_NE(new_ca, old_ca);
  EXPECT_EQ(Field(ca_secret, "previous-ca.crt"), old_ca);
  EXPECT_EQ(Bundle(), new_ca + old_ca) << "both CAs are trusted during the rotation";
  EXPECT_EQ(ServingFingerprint(), old_fp) << "the new certificate waits until the API server trusts the new CA";

  clock_.Advance(seconds(5));
  EXPECT_EQ(Settle(certs), seconds(2));  // waiting for the replicas
  std::string new_fp = ServingFingerprint();
  EXPECT_NE(new_fp, old_fp);
  EXPECT_TRUE(tls::IsSignedBy(Field(Secret("execgov-webhook-tls"), "tls.crt"), new_ca));

  // One replica still serves the old certificate: the old CA stays.
  served_ = {new_fp, old_fp};
  EXPECT_EQ(Settle(certs), seconds(2));
  EXPECT_EQ(Certs(Bundle()), 2);
  // The probe reaches no replica: unknown, so the old CA stays too.
  served_ = {};
  EXPECT_EQ(Settle(certs), seconds(2));
  EXPECT_EQ(Certs(Bundle()), 2);

  served_ = {new_fp, new_fp};
  EXPECT_GT(Settle(certs), seconds(60));
  EXPECT_EQ(Bundle(), new_ca);
  EXPECT_EQ(Field(Secret("execgov-webhook-ca"), "previous-ca.crt"), "");
  EXPECT_EQ(Secret("execgov-webhook-ca")["metadata"]["annotations"]["execgov.io/rotated-for"], "1");
  EXPECT_EQ(ServingFingerprint(), new_fp);
}

TEST_F(WebhookCertificatesTest, RenewsAServingCertificateNearExpiryFromTheSameCa) {
  options_.cert_validity = std::chrono::hours(48);
  options_.cert_renew_before = std::chrono::hours(24);
  WebhookCertificates certs(client_.get(), &clock_, options_, probe_);
  Settle(certs);
  clock_.Advance(seconds(5));
  EXPECT_EQ(Settle(certs), seconds(24 * 3600));
  std::string ca = Field(Secret("execgov-webhook-ca"), "ca.crt");
  std::string first = ServingFingerprint();

  clock_.Advance(seconds(24 * 3600));
  Settle(certs);
  EXPECT_NE(ServingFingerprint(), first);
  EXPECT_TRUE(tls::IsSignedBy(Field(Secret("execgov-webhook-tls"), "tls.crt"), ca));
  EXPECT_EQ(Bundle(), ca) << "a renewal from the same CA changes no caBundle";
}

TEST_F(WebhookCertificatesTest, AServingSecretForOtherHostsIsReplaced) {
  WebhookCertificates certs(client_.get(), &clock_, options_, probe_);
  Settle(certs);
  clock_.Advance(seconds(5));
  Settle(certs);
  std::string first = ServingFingerprint();
  options_.hosts.push_back("execgov-webhook." + ns_ + ".svc.cluster.local");
  WebhookCertificates more_hosts(client_.get(), &clock_, options_, probe_);
  Settle(more_hosts);
  EXPECT_NE(ServingFingerprint(), first);
  EXPECT_EQ(tls::InspectCertificate(Field(Secret("execgov-webhook-tls"), "tls.crt"))->hosts.size(), 3u);
}

TEST_F(WebhookCertificatesTest, AMissingWebhookConfigurationStillGetsCertificatesReady) {
  ASSERT_TRUE(client_->Delete(Vwcs() + "/" + vwc_).ok());
  WebhookCertificates certs(client_.get(), &clock_, options_, probe_);
  Settle(certs);
  clock_.Advance(seconds(5));
  Settle(certs);
  EXPECT_FALSE(Secret("execgov-webhook-tls").is_null());
}

}  // namespace
}  // namespace execgov::controllers
