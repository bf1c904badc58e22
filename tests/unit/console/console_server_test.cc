// The console's HTTP handler: fail-closed without the token (401, the login
// page for a page, JSON for the API), the token as bearer or cookie, the
// security headers on every answer, and bounded, validated parameters.
#include "console/console_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "ledger/ledger.h"
#include "support/fake_kube_client.h"
#include "tls/certificate_authority.h"

namespace execgov::console {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kToken[] = "0123456789abcdef-console-token";

class ConsoleServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-console-server-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "assets" / "assets");
    std::ofstream(dir_ / "assets" / "index.html") << "<html>the app</html>";
    std::ofstream(dir_ / "assets" / "login.html") << "<html>log in</html>";
    std::ofstream(dir_ / "assets" / "assets" / "app.js") << "console.log(1)";
    std::ofstream(dir_ / "assets" / "assets" / "app.js.map") << "{}";
    ledger::LedgerOptions o;
    o.clock = &clock_;
    auto l = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), o);
    ASSERT_TRUE(l.ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*l)->Append({{"type", "admission"},
                                {"decision", "allowed"},
                                {"object", {{"kind", "Job"}, {"namespace", "a"}, {"name", "j" + std::to_string(i)}}}})
                      .ok());
    }
    ASSERT_TRUE((*l)->Close().ok());
    auto index = LedgerIndex::Open("file:" + (dir_ / "ledger.jsonl").string());
    ASSERT_TRUE(index.ok());
    index_ = std::move(*index);
    auto c = Console::Create({index_.get(), kToken, (dir_ / "assets").string()});
    ASSERT_TRUE(c.ok()) << c.status().message();
    console_ = std::move(*c);
  }
  void TearDown() override { fs::remove_all(dir_); }

  webhook::HttpResponse Get(const std::string& target, const std::string& auth = "", const std::string& cookie = "") {
    webhook::HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.authorization = auth;
    r.cookie = cookie;
    return console_->Handle(r);
  }
  static std::string Header(const webhook::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  fs::path dir_;
  FakeClock clock_{1790000000};
  std::unique_ptr<LedgerIndex> index_;
  std::unique_ptr<Console> console_;
};

TEST_F(ConsoleServerTest, NothingButTheLoginPageWithoutTheToken) {
  auto page = Get("/");
  EXPECT_EQ(page.status, 401);
  EXPECT_EQ(page.body, "<html>log in</html>");
  EXPECT_EQ(Header(page, "WWW-Authenticate"), "Bearer");
  for (const char* api : {"/api/head", "/api/records", "/api/record?seq=0", "/api/proof?seq=0", "/api/story?seq=0",
                          "/api/consistency?from=1&to=2", "/api/nothing"}) {
    auto r = Get(api);
    EXPECT_EQ(r.status, 401) << api;
    EXPECT_EQ(r.body.find("\"seq\""), std::string::npos) << api;
  }
  EXPECT_EQ(Get("/api/head", "Bearer wrong-token-of-some-length").status, 401);
  EXPECT_EQ(Get("/api/head", std::string("Bearer ") + kToken + "x").status, 401);
  EXPECT_EQ(Get("/api/head", std::string("Basic ") + kToken).status, 401);
  EXPECT_EQ(Get("/api/head", "", std::string("other=") + kToken).status, 401);
  EXPECT_EQ(Get("/login").status, 200);
  EXPECT_EQ(Get("/assets/app.js").status, 200);
  EXPECT_EQ(Get("/assets/app.js.map").status, 404);  // not a served type
}

TEST_F(ConsoleServerTest, TheTokenAsBearerOrCookie) {
  auto head = Get("/api/head", std::string("Bearer ") + kToken);
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_EQ(json::parse(head.body)["size"], 4);  // three records and the final checkpoint
  EXPECT_EQ(Get("/", "", std::string("a=b; ") + kSessionCookie + "=" + kToken).status, 200);
  EXPECT_EQ(Get("/", "", std::string("a=b; ") + kSessionCookie + "=" + kToken).body, "<html>the app</html>");

  webhook::HttpRequest login;
  login.method = "POST";
  login.target = "/api/login";
  login.body = json{{"token", kToken}}.dump();
  auto ok = console_->Handle(login);
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(Header(ok, "Set-Cookie").find("HttpOnly; SameSite=Strict"), std::string::npos);
  login.body = R"({"token":"not-the-token-at-all"})";
  auto refused = console_->Handle(login);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(Header(refused, "Set-Cookie"), "");
}

// The cosigned checkpoint the operator keeps beside the ledger (issue 23)
// goes out as checkpoint.cosigned, as stored: the browser verifies it. None
// stored, or one over the bound, sends none (the browser then counts no
// cosignature: fail closed).
TEST_F(ConsoleServerTest, HeadCarriesTheStoredCosignedCheckpoint) {
  const std::string auth = std::string("Bearer ") + kToken;
  const fs::path stored = dir_ / "ledger.jsonl.cosigned";
  auto store = ledger::FileCosignedStore(stored.string());
  ConsoleOptions o;
  o.index = index_.get();
  o.token = kToken;
  o.assets_dir = (dir_ / "assets").string();
  o.cosigned = store.get();
  auto c = Console::Create(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto head = [&] {
    webhook::HttpRequest r;
    r.method = "GET";
    r.target = "/api/head";
    r.authorization = auth;
    auto answer = (*c)->Handle(r);
    EXPECT_EQ(answer.status, 200) << answer.body;
    return json::parse(answer.body);
  };
  EXPECT_FALSE(head()["checkpoint"].contains("cosigned"));  // none stored yet
  const std::string note = "execgov.test/ledger\n3\nroot=\n\n\u2014 execgov.test/ledger sig\n\u2014 witness.test cosig\n";
  ASSERT_TRUE(store->Write(note, json::object()).ok());
  EXPECT_EQ(head()["checkpoint"]["cosigned"], note);
  EXPECT_EQ(head()["checkpoint"]["note"], json::parse(Get("/api/head", auth).body)["checkpoint"]["note"]);
  std::ofstream(stored, std::ios::trunc) << std::string(ledger::kMaxCosignedNoteBytes + 1, 'x');
  EXPECT_FALSE(head()["checkpoint"].contains("cosigned"));
  // A console given no store sends none.
  EXPECT_FALSE(json::parse(Get("/api/head", auth).body)["checkpoint"].contains("cosigned"));
}

TEST_F(ConsoleServerTest, StrictHeadersOnEveryAnswer) {
  for (const auto& r : {Get("/"), Get("/api/head", std::string("Bearer ") + kToken), Get("/assets/app.js")}) {
    const std::string csp = Header(r, "Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  }
  EXPECT_EQ(Header(Get("/api/head", std::string("Bearer ") + kToken), "Cache-Control"), "no-store");
}

TEST_F(ConsoleServerTest, ParametersAreBoundedAndValidated) {
  const std::string auth = std::string("Bearer ") + kToken;
  EXPECT_EQ(Get("/api/records?limit=2", auth).status, 200);
  EXPECT_EQ(json::parse(Get("/api/records?limit=2", auth).body)["records"].size(), 2u);
  EXPECT_EQ(Get("/api/records?limit=0", auth).status, 400);
  EXPECT_EQ(Get("/api/records?limit=201", auth).status, 400);
  EXPECT_EQ(Get("/api/records?limit=-1", auth).status, 400);
  EXPECT_EQ(Get("/api/records?limit=99999999999999999999999", auth).status, 400);
  EXPECT_EQ(Get("/api/records?name=a&name=b", auth).status, 400);
  EXPECT_EQ(Get("/api/records?evil=1", auth).status, 400);
  EXPECT_EQ(Get("/api/records?name=%zz", auth).status, 400);
  EXPECT_EQ(Get("/api/records?name=%0a", auth).status, 400);
  EXPECT_EQ(Get("/api/records?since=yesterday", auth).status, 400);
  EXPECT_EQ(Get("/api/records?name=" + std::string(kMaxParamBytes + 1, 'a'), auth).status, 400);
  EXPECT_EQ(Get("/api/records?name=" + std::string(kMaxParamBytes, 'a'), auth).status, 200);
  EXPECT_EQ(Get("/" + std::string(kMaxTargetBytes, 'a'), auth).status, 414);
  EXPECT_EQ(Get("/api/record?seq=99", auth).status, 404);
  EXPECT_EQ(Get("/api/record", auth).status, 400);
  EXPECT_EQ(Get("/api/../etc/passwd", auth).status, 400);
  auto found = json::parse(Get("/api/records?name=j1&namespace=a&kind=Job", auth).body);
  ASSERT_EQ(found["records"].size(), 1u);
  EXPECT_EQ(found["records"][0]["seq"], 1);
  auto record = json::parse(Get("/api/record?seq=1", auth).body);
  EXPECT_EQ(record["canonical"].get<std::string>().substr(0, 1), "{");
  webhook::HttpRequest post;
  post.method = "POST";
  post.target = "/api/records";
  post.authorization = auth;
  EXPECT_EQ(console_->Handle(post).status, 405);
}

TEST_F(ConsoleServerTest, GovernanceShowsPoliciesOrWhyNot) {
  const std::string auth = std::string("Bearer ") + kToken;
  auto none = json::parse(Get("/api/governance", auth).body);
  EXPECT_TRUE(none["policies"].empty());
  EXPECT_FALSE(none.contains("error"));
  // A valid policy is shown; an invalid one says why, and shows nothing.
  auto governance = [&](const std::string& yaml) {
    std::ofstream(dir_ / "policy.yaml", std::ios::trunc) << yaml;
    auto c = Console::Create({index_.get(), kToken, (dir_ / "assets").string(), nullptr, (dir_ / "policy.yaml").string()});
    EXPECT_TRUE(c.ok());
    webhook::HttpRequest r;
    r.method = "GET";
    r.target = "/api/governance";
    r.authorization = auth;
    return json::parse((*c)->Handle(r).body);
  };
  const std::string head = "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: p}\n";
  auto ok = governance(head +
                       "spec:\n  audience: a\n  maxTTL: 5m\n  revocations: {jtis: [j1]}\n  issuers:\n"
                       "  - name: i\n    subjects: [\"agent:*\"]\n    keys:\n    - kid: k1\n      algorithm: Ed25519\n"
                       "      notAfter: \"2027-01-01T00:00:00Z\"\n      publicKey: |\n"
                       "        -----BEGIN PUBLIC KEY-----\n"
                       "        MCowBQYDK2VwAyEA3FkDNegjnDnl7QsqcxNgfs2g4mscDQLazrNIaapz7oo=\n"
                       "        -----END PUBLIC KEY-----\n");
  ASSERT_FALSE(ok.contains("error")) << ok.dump();
  ASSERT_EQ(ok["policies"].size(), 1u);
  EXPECT_EQ(ok["policies"][0]["issuers"][0]["keys"][0]["kid"], "k1");
  EXPECT_EQ(ok["policies"][0]["issuers"][0]["keys"][0]["notAfter"], 1798761600);
  EXPECT_EQ(ok["policies"][0]["revokedJtis"], json::array({"j1"}));
  EXPECT_EQ(ok.dump().find("BEGIN PUBLIC KEY"), std::string::npos);
  auto bad = governance(head + "spec: {audience: a, maxTTL: 5m, issuers: []}\n");
  EXPECT_TRUE(bad["policies"].empty());
  EXPECT_NE(bad["error"].get<std::string>().find("at least one issuer"), std::string::npos);
  webhook::HttpRequest r;
  r.method = "GET";
  r.target = "/api/governance";
  r.authorization = auth;
  auto missing = Console::Create({index_.get(), kToken, (dir_ / "assets").string(), nullptr, (dir_ / "nope").string()});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(json::parse((*missing)->Handle(r).body).contains("error"));
  r.authorization.clear();
  EXPECT_EQ((*missing)->Handle(r).status, 401);
}

// Lists answer with one ExecutionPolicy not Ready, and refuse AuthorityPolicies.
class OnePolicyCluster final : public testing::ListWatchOnlyClient {
 public:
  StatusOr<kube::ListResult> List(const std::string& path, const kube::ListOptions&) override {
    if (path.find("authoritypolicies") != std::string::npos) return PermissionDenied("authoritypolicies is forbidden");
    kube::ListResult r;
    r.items.push_back({{"metadata", {{"name", "team-a"}, {"generation", 2}}},
                       {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", "False"},
                                                                 {"reason", "InvalidKey"}}})}}}});
    return r;
  }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("no watch here");
  }
};

TEST_F(ConsoleServerTest, HealthShowsPoliciesAsTheUserOrWhyNotAndTheConsolesCertificate) {
  const std::string auth = std::string("Bearer ") + kToken;
  auto standalone = json::parse(Get("/api/health", auth).body);
  EXPECT_EQ(standalone["policies"]["available"], false);
  EXPECT_FALSE(standalone["policies"].contains("error"));
  EXPECT_FALSE(standalone.contains("console"));  // no certificate given

  auto ca = tls::CreateCertificateAuthority("ca", 1790000000, std::chrono::hours(24));
  auto pair = tls::IssueServingCertificate(*ca, {"127.0.0.1"}, 1790000000, std::chrono::hours(48));
  ASSERT_TRUE(pair.ok());
  std::ofstream(dir_ / "tls.crt") << pair->cert_pem;
  std::ofstream(dir_ / "tls.key") << pair->key_pem;
  auto credentials = tls::CredentialStore::Open({(dir_ / "tls.crt").string(), (dir_ / "tls.key").string(), ""});
  ASSERT_TRUE(credentials.ok());
  ConsoleOptions o;
  o.index = index_.get();
  o.token = kToken;
  o.assets_dir = (dir_ / "assets").string();
  o.credentials = credentials->get();
  std::string used_token;
  o.user_client = [&used_token](const std::string& token) -> StatusOr<std::unique_ptr<kube::Client>> {
    used_token = token;
    return std::unique_ptr<kube::Client>(new OnePolicyCluster());
  };
  auto c = Console::Create(o);
  ASSERT_TRUE(c.ok());
  webhook::HttpRequest r;
  r.method = "GET";
  r.target = "/api/health";
  r.authorization = auth;
  auto health = json::parse((*c)->Handle(r).body);
  EXPECT_EQ(used_token, kToken);  // read with the user's own token
  EXPECT_EQ(health["console"]["certificateNotAfter"], 1790000000 + 48 * 3600);
  ASSERT_EQ(health["policies"]["available"], true);
  EXPECT_EQ(health["policies"]["kinds"][0]["policies"][0]["ready"], "False");
  EXPECT_EQ(health["policies"]["kinds"][1]["forbidden"], true);
  EXPECT_NE(health["policies"]["kinds"][1]["error"].get<std::string>().find("refused console"), std::string::npos);
  // cluster=0: the page's polls between the cluster reads ask nothing of the API server.
  used_token.clear();
  r.target = "/api/health?cluster=0";
  auto light = json::parse((*c)->Handle(r).body);
  EXPECT_TRUE(used_token.empty());
  EXPECT_FALSE(light.contains("policies"));
  EXPECT_FALSE(light.contains("runtimeReports"));
  EXPECT_EQ(light["console"]["certificateNotAfter"], 1790000000 + 48 * 3600);
  r.target = "/api/health?cluster=yes";
  EXPECT_EQ((*c)->Handle(r).status, 400);
  // Standalone the policies' answer costs nothing and is always sent.
  EXPECT_EQ(json::parse(Get("/api/health?cluster=0", auth).body)["policies"]["available"], false);
}

TEST(ConsoleTokenTest, TokenFilesMustBePrivateAndUsable) {
  fs::path f = fs::temp_directory_path() / ("execgov-console-token-" + std::to_string(::getpid()));
  std::ofstream(f) << kToken << "\n";
  ::chmod(f.c_str(), 0644);
  EXPECT_FALSE(ReadTokenFile(f.string()).ok());
  ::chmod(f.c_str(), 0600);
  auto t = ReadTokenFile(f.string());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kToken);
  std::ofstream(f, std::ios::trunc) << "short\n";
  EXPECT_FALSE(ReadTokenFile(f.string()).ok());
  fs::remove(f);
  EXPECT_FALSE(CheckToken("has a space in it, long enough").ok());
}

}  // namespace
}  // namespace execgov::console
