// The authority's HTTPS endpoint (authority/http_endpoint.h) over an
// in-memory API: a rule needing approvals answers 202 with a relayed request
// for the caller, which only that caller may poll (202 waiting, 201 with the
// grant's artifact, 403 once denied or its grant expired); the bounds on
// relays; TokenReview audiences.
#include "authority/http_endpoint.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/relay.h"
#include "authority_caches.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "support/artifact_factory.h"
#include "support/memory_kube_client.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1800000000;

// TokenReviews: token "tok-NAME" is user NAME, status.audiences `audiences`;
// ExecutionRequests are stored as the API server would name them.
class EndpointClient : public testing::MemoryClient {
 public:
  StatusOr<json> Create(const std::string& path, const json& obj) override {
    if (path.size() > 13 && path.substr(path.size() - 13) == "/tokenreviews") {
      reviewed_audiences = obj["spec"].value("audiences", json());
      const std::string token = obj["spec"]["token"];
      if (token.rfind("tok-", 0) != 0) return json{{"status", {{"authenticated", false}}}};
      return json{{"status",
                   {{"authenticated", true}, {"user", {{"username", token.substr(4)}}}, {"audiences", audiences}}}};
    }
    if (refuse_creates) return PermissionDenied("admission webhook denied the request");
    json stored = obj;
    stored["metadata"]["name"] = api::StringAt(obj, {"metadata", "generateName"}) + "x" + std::to_string(++created);
    stored["metadata"]["uid"] = "uid-" + std::to_string(created);
    Put("executionrequests", stored);
    return stored;
  }
  json audiences = json::array();
  json reviewed_audiences;
  bool refuse_creates = false;
  int created = 0;
};

class AuthorizeEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("endpoint-test-" + crypto::HexEncode(crypto::RandomBytes(6)));
    std::filesystem::create_directories(dir_);
    signer_ = std::make_unique<Signer>(Signer{testing::Authority::Make().key, "ops-1", "ops-authority", "cluster-a"});
    client_.Put("authoritypolicies",
                {{"apiVersion", "execgov.io/v1alpha1"},
                 {"kind", "AuthorityPolicy"},
                 {"metadata", {{"name", "ops"}, {"generation", 1}}},
                 {"spec",
                  {{"rules",
                    {{{"name", "review"},
                      {"match", {{"kinds", {"Job"}}}},
                      {"action", "RequireApprovals"},
                      {"approvals", {{"count", 1}, {"groups", {"ops"}}}}}}}}}});
  }
  void TearDown() override {
    endpoint_.reset();
    controller_.reset();
    caches_.Stop();
    if (ledger_) {
      EXPECT_TRUE(ledger_->Close().ok());
    }
    std::filesystem::remove_all(dir_);
  }
  void Start(std::set<std::string> watch = {}, std::vector<std::string> audiences = {}) {
    ledger::LedgerOptions options;
    options.signing_key_path = (dir_ / "ledger.key").string();
    ledger_ = std::move(ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), options)).value();
    ASSERT_TRUE(caches_.Start(&client_));
    AuthorityControllerDeps deps = caches_.Deps();
    deps.ledger = ledger_.get();
    deps.index = &index_;
    deps.signer = signer_.get();
    deps.watch_namespaces = std::move(watch);
    deps.clock = &clock_;
    controller_ = std::make_unique<AuthorityController>(std::move(deps));
    AuthorizeEndpointDeps e;
    e.client = &client_;
    e.controller = controller_.get();
    e.ledger = ledger_.get();
    e.index = &index_;
    e.signer = signer_.get();
    e.identity = "authority-test";
    e.audiences = std::move(audiences);
    e.clock = &clock_;
    endpoint_ = std::make_unique<AuthorizeEndpoint>(std::move(e));
  }
  static std::string Job(const std::string& name) {
    return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
           R"(","namespace":"agents"},"spec":{"template":{"spec":{"restartPolicy":"Never",)"
           R"("containers":[{"name":"r","image":"registry.example.com/batch/r:1"}]}}}})";
  }
  webhook::HttpResponse Post(const std::string& user, const std::string& name = "rotate") {
    return endpoint_->Handle({"POST", "/v1/authorize", "application/json", "Bearer tok-" + user, "", Job(name)});
  }
  webhook::HttpResponse Poll(const std::string& user, const std::string& location) {
    return endpoint_->Handle({"GET", location, "", "Bearer tok-" + user, "", ""});
  }
  static std::string Header(const webhook::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  json& Stored(const std::string& name) {
    stored_ = client_.Object("executionrequests", "agents", name);
    return stored_;
  }

  std::filesystem::path dir_;
  EndpointClient client_;
  FakeClock clock_{kNow};
  std::unique_ptr<Signer> signer_;
  GrantIndex index_;
  std::unique_ptr<ledger::Ledger> ledger_;
  AuthorityCaches caches_;
  std::unique_ptr<AuthorityController> controller_;
  std::unique_ptr<AuthorizeEndpoint> endpoint_;
  json stored_;
};

TEST_F(AuthorizeEndpointTest, ApprovalsAnswer202WithARequestOnlyItsCallerMayPoll) {
  Start();
  auto r = Post("alice");
  ASSERT_EQ(r.status, 202) << r.body;
  const json body = json::parse(r.body);
  const std::string name = body["request"]["name"], location = body["location"];
  EXPECT_EQ(location, "/v1/authorize/requests/agents/" + name);
  EXPECT_EQ(Header(r, "Location"), location);
  EXPECT_EQ(body["rule"], "ops/review");
  const json request = Stored(name);
  EXPECT_EQ(api::StringAt(request, {"spec", "initiator"}), "alice");
  EXPECT_EQ(request["spec"]["relay"], json({{"kind", "Job"}, {"name", "rotate"}}));

  EXPECT_EQ(Poll("alice", location).status, 202);
  EXPECT_EQ(Poll("bob", location).status, 404);  // never another's
  EXPECT_EQ(Poll("alice", "/v1/authorize/requests/agents/nothing").status, 404);
  json plain = testing::MakeExecutionRequest("agents", "plain");
  plain["spec"]["initiator"] = "alice";
  client_.Put("executionrequests", plain);
  EXPECT_EQ(Poll("alice", "/v1/authorize/requests/agents/plain").status, 404);  // not relayed
  EXPECT_EQ(endpoint_->Handle({"GET", location, "", "Bearer nobody", "", ""}).status, 401);

  // Granted: the grant's artifact, for the Job, on every poll until it expires.
  json claims = {{"iss", "ops-authority"}, {"sub", "alice"}, {"aud", "cluster-a"}, {"iat", kNow}, {"nbf", kNow},
                 {"exp", kNow + 300}, {"jti", "j1"},
                 {"scope", {{"kind", "Job"}, {"namespace", "agents"}, {"name", "rotate"}, {"digest", "sha256:x"}}}};
  index_.NoteGrant(api::UidOf(request), {claims, "ops/review", "alice", kNow, kNow + 300});
  Stored(name)["status"] = {{"phase", "Granted"}};
  client_.Put("executionrequests", stored_);
  auto granted = Poll("alice", location);
  ASSERT_EQ(granted.status, 201) << granted.body;
  const json g = json::parse(granted.body);
  EXPECT_EQ(g["jti"], "j1");
  EXPECT_EQ(g["manifest"]["kind"], "Job");
  EXPECT_EQ(g["manifest"]["metadata"]["name"], "rotate");
  EXPECT_EQ(g["manifest"]["metadata"]["annotations"]["execgov.io/authorization"], g["artifact"]);
  const std::string artifact = g["artifact"];
  crypto::ParsedJws parsed;
  EXPECT_EQ(crypto::ParseJws(artifact, &parsed).failure, crypto::JwsFailure::kNone);
  EXPECT_EQ(parsed.claims, claims);
  EXPECT_EQ(Poll("bob", location).status, 404);
  clock_.Advance(std::chrono::seconds(300));
  auto expired = Poll("alice", location);
  EXPECT_EQ(expired.status, 403);
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
}

TEST_F(AuthorizeEndpointTest, ADeniedRequestIs403NamingWhyAndTheRule) {
  Start();
  const std::string name = json::parse(Post("alice").body)["request"]["name"];
  Stored(name)["status"] = {
      {"phase", "Denied"},
      {"authorization", {{"rule", "ops/review"}}},
      {"conditions", {{{"type", "Authorized"}, {"status", "False"}, {"message", "denied by carol: not today"}}}}};
  client_.Put("executionrequests", stored_);
  auto r = Poll("alice", "/v1/authorize/requests/agents/" + name);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("denied by carol: not today"), std::string::npos) << r.body;
  EXPECT_EQ(json::parse(r.body)["rule"], "ops/review");
}

TEST_F(AuthorizeEndpointTest, ANamespaceTheAuthorityDoesNotHandleIsRefused) {
  // Nothing could grant it: refused before anything is created.
  Start({"elsewhere"});
  EXPECT_EQ(Post("alice").status, 403);
  EXPECT_EQ(client_.created, 0);
}

TEST_F(AuthorizeEndpointTest, OneCallerHoldsAtMost16WaitingRelays) {
  for (size_t i = 0; i < kMaxPendingRelays; ++i) {
    auto request = NewRelayedRequest(api::GovernedKind::kJob, json::parse(Job("j" + std::to_string(i))), "alice");
    ASSERT_TRUE(request.ok());
    (*request)["metadata"]["name"] = "held-" + std::to_string(i);
    (*request)["status"] = {{"phase", "AwaitingAuthorization"}};
    client_.Put("executionrequests", *request);
  }
  Start();
  EXPECT_EQ(Post("alice").status, 403);
  EXPECT_EQ(Post("bob").status, 202);
  // The cluster refusing to hold one (no relayUsers, say): 403 naming the rule.
  client_.refuse_creates = true;
  auto refused = Post("bob", "other");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(json::parse(refused.body)["rule"], "ops/review");
}

TEST_F(AuthorizeEndpointTest, WithAudiencesTheReviewMustNameOne) {
  Start({}, {"execgov-authority"});
  auto r = Post("alice");
  EXPECT_EQ(r.status, 401) << r.body;  // the review named no audience
  EXPECT_EQ(client_.reviewed_audiences, json({"execgov-authority"}));
  client_.audiences = {"another"};
  EXPECT_EQ(Post("alice").status, 401);
  client_.audiences = {"another", "execgov-authority"};
  EXPECT_EQ(Post("alice").status, 202);
}

}  // namespace
}  // namespace execgov::authority
