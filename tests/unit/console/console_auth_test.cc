// In-cluster authorization of the console: TokenReview then
// SubjectAccessReview, fail-closed on every doubt, answers cached briefly
// and boundedly by the token's digest, one review per token at a time; and
// the writes made with the logged-in user's own client (revoke), refused
// unless enabled, sent as JSON, and allowed by the API server.
#include "console/console_auth.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "console/cluster_view.h"
#include "console/console_server.h"
#include "core/clock.h"
#include "ledger/ledger.h"
#include "support/fake_kube_client.h"

namespace execgov::console {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kGood = std::string(900, 'g');  // a bound token's size
const std::string kNobody = std::string(900, 'n');
const std::string kStranger = std::string(900, 's');

// Lists nothing, watches nothing: the fakes below script the rest.
class QuietClient : public testing::ListWatchOnlyClient {
 public:
  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override { return kube::ListResult{}; }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Status::Ok();
  }
};

// The API server's review endpoints: kGood is alice (may read), kNobody is
// bob (may not), anything else is unknown. `fail` makes every call fail in
// transport.
class FakeReviewer : public QuietClient {
 public:
  StatusOr<json> Create(const std::string& path, const json& body) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back({path, body});
    if (fail) return Unavailable("connection refused");
    if (path == "/apis/authentication.k8s.io/v1/tokenreviews") {
      const std::string t = body["spec"]["token"];
      json st = {{"authenticated", t == kGood || t == kNobody}};
      if (t == kGood) st["user"] = {{"username", "alice"}, {"groups", {"ops"}}, {"extra", {{"scope", {"x"}}}}};
      if (t == kNobody) st["user"] = {{"username", "bob"}, {"groups", json::array()}};
      return json{{"status", st}};
    }
    if (path == "/apis/authorization.k8s.io/v1/subjectaccessreviews") {
      return json{{"status", {{"allowed", body["spec"]["user"] == "alice"}}}};
    }
    return NotFound("no such path");
  }
  size_t Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls.size();
  }
  std::mutex mu_;
  std::vector<std::pair<std::string, json>> calls;
  bool fail = false;
};

class KubeReviewTest : public ::testing::Test {
 protected:
  KubeReviewOptions Options(size_t max_entries = 1024) {
    KubeReviewOptions o;
    o.access.ns = "execgov-system";
    o.ttl = std::chrono::seconds(10);
    o.max_entries = max_entries;
    o.clock = &clock_;
    return o;
  }
  FakeClock clock_{1790000000};
  FakeReviewer reviewer_;
};

TEST_F(KubeReviewTest, AUserWhoMayReadTheLedgerIsLetIn) {
  KubeReviewAuthenticator auth(&reviewer_, Options());
  auto id = auth.Authenticate(kGood);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->user, "alice");
  EXPECT_EQ(id->groups, std::vector<std::string>{"ops"});
  ASSERT_EQ(reviewer_.calls.size(), 2u);
  const json& sar = reviewer_.calls[1].second["spec"];
  EXPECT_EQ(sar["user"], "alice");
  EXPECT_EQ(sar["groups"], json({"ops"}));
  EXPECT_EQ(sar["extra"], json({{"scope", {"x"}}}));  // a scoped token keeps its scope
  EXPECT_EQ(sar["resourceAttributes"],
            json({{"group", "execgov.io"}, {"resource", "ledgers"}, {"verb", "get"}, {"namespace", "execgov-system"}}));
}

TEST_F(KubeReviewTest, UnknownTokensAndUsersWhoMayNotReadAreRefused) {
  KubeReviewAuthenticator auth(&reviewer_, Options());
  auto stranger = auth.Authenticate(kStranger);
  EXPECT_EQ(stranger.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(reviewer_.calls.size(), 1u);  // no access review for nobody
  auto bob = auth.Authenticate(kNobody);
  EXPECT_EQ(bob.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth.Authenticate("").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth.Authenticate(std::string(kMaxKubeTokenBytes + 1, 'g')).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(reviewer_.calls.size(), 3u);  // the empty and the oversized token were never sent
}

TEST_F(KubeReviewTest, AnswersWithoutAVerdictRefuse) {
  EXPECT_FALSE(ReviewedUser(json::object()).ok());
  EXPECT_FALSE(ReviewedUser({{"status", {{"authenticated", true}}}}).ok());  // no user
  EXPECT_FALSE(ReviewedUser({{"status", {{"authenticated", true}, {"user", {{"username", ""}}}}}}).ok());
  EXPECT_FALSE(ReviewedUser({{"status", {{"authenticated", "true"}, {"user", {{"username", "a"}}}}}}).ok());
  EXPECT_FALSE(AccessAllowed(json::object()).ok());
  EXPECT_FALSE(AccessAllowed({{"status", {{"allowed", "true"}}}}).ok());
  EXPECT_FALSE(AccessAllowed({{"status", {{"allowed", true}, {"denied", true}}}}).ok());
  EXPECT_TRUE(AccessAllowed({{"status", {{"allowed", true}}}}).ok());
}

TEST_F(KubeReviewTest, AnAnswerIsReusedForItsTtlOnly) {
  KubeReviewAuthenticator auth(&reviewer_, Options());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(auth.Authenticate(kGood).ok());
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(auth.Authenticate(kNobody).ok());
  EXPECT_EQ(auth.reviews(), 2u);
  EXPECT_EQ(reviewer_.calls.size(), 4u);
  clock_.Advance(std::chrono::seconds(9));
  ASSERT_TRUE(auth.Authenticate(kGood).ok());
  EXPECT_EQ(auth.reviews(), 2u);
  clock_.Advance(std::chrono::seconds(1));  // 10 s: expired, asked again
  ASSERT_TRUE(auth.Authenticate(kGood).ok());
  EXPECT_EQ(auth.reviews(), 3u);
}

TEST_F(KubeReviewTest, AnUnreachableApiServerRefusesAndIsNotRemembered) {
  KubeReviewAuthenticator auth(&reviewer_, Options());
  reviewer_.fail = true;
  EXPECT_EQ(auth.Authenticate(kGood).status().code(), StatusCode::kUnavailable);
  reviewer_.fail = false;
  EXPECT_TRUE(auth.Authenticate(kGood).ok());  // asked again at once
  EXPECT_EQ(auth.reviews(), 2u);
}

TEST_F(KubeReviewTest, TheCacheIsBounded) {
  KubeReviewAuthenticator auth(&reviewer_, Options(/*max_entries=*/2));
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.push_back(std::string(100, static_cast<char>('a' + i)));
  for (const auto& t : tokens) EXPECT_FALSE(auth.Authenticate(t).ok());
  EXPECT_EQ(auth.reviews(), 5u);
  EXPECT_FALSE(auth.Authenticate(tokens[4]).ok());  // the newest is kept
  EXPECT_EQ(auth.reviews(), 5u);
  EXPECT_FALSE(auth.Authenticate(tokens[0]).ok());  // the oldest was dropped
  EXPECT_EQ(auth.reviews(), 6u);
}

TEST_F(KubeReviewTest, ConcurrentRequestsWithOneTokenShareOneReview) {
  KubeReviewAuthenticator auth(&reviewer_, Options());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&] { ok += auth.Authenticate(kGood).ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
  EXPECT_EQ(auth.reviews(), 1u);
  EXPECT_EQ(reviewer_.Calls(), 2u);
}

TEST(StaticTokenTest, OnlyTheConsolesToken) {
  StaticTokenAuthenticator auth("0123456789abcdef-console-token");
  EXPECT_TRUE(auth.Authenticate("0123456789abcdef-console-token").ok());
  EXPECT_FALSE(auth.Authenticate("0123456789abcdef-console-tokeN").ok());
  EXPECT_FALSE(auth.Authenticate("").ok());
}

// The user's view of the API server: one ExecutionPolicy and a few requests;
// `may_write` says whether RBAC lets this user update policies.
class UserClient : public QuietClient {
 public:
  explicit UserClient(json* policy, bool may_write) : policy_(policy), may_write_(may_write) {}
  StatusOr<json> Get(const std::string& path) override {
    if (path == "/apis/execgov.io/v1alpha1/namespaces/team-a/executionrequests/early") return Request("AwaitingAuthorization");
    if (path == "/apis/execgov.io/v1alpha1/namespaces/team-a/executionrequests/ran") return Request("Succeeded");
    if (path != std::string(kPoliciesPath) + "/p1") return NotFound("no such policy");
    return *policy_;
  }
  StatusOr<json> Create(const std::string& path, const json& object) override {
    if (!may_write_) return PermissionDenied("executionapprovals.execgov.io is forbidden");
    if (!created_) return Internal("this test creates nothing");
    created_->push_back({path, object});
    json out = object;
    out["metadata"]["name"] = object["metadata"]["generateName"].get<std::string>() + "x1";
    return out;
  }
  static json Request(const std::string& phase) {
    json r = json::parse(R"({"apiVersion": "execgov.io/v1alpha1", "kind": "ExecutionRequest",
      "metadata": {"namespace": "team-a", "name": "early", "uid": "u-1"},
      "spec": {"initiator": "agent:early", "template": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "run", "image": "registry.example.com/run:1"}]}}}}}})");
    r["status"] = {{"phase", phase}};
    return r;
  }
  std::vector<std::pair<std::string, json>>* created_ = nullptr;  // where Create records
  StatusOr<json> Update(const std::string& path, const json& object) override {
    if (!may_write_) return PermissionDenied("executionpolicies.execgov.io \"p1\" is forbidden");
    if (path != std::string(kPoliciesPath) + "/p1") return NotFound("no such policy");
    *policy_ = object;
    return object;
  }
  StatusOr<kube::ListResult> List(const std::string& path, const kube::ListOptions&) override {
    kube::ListResult r;
    if (path == kRequestsPath) {
      auto req = [](const std::string& name, const std::string& phase, const std::string& created) {
        return json{{"metadata", {{"namespace", "team-a"}, {"name", name}, {"creationTimestamp", created}}},
                    {"spec", {{"initiator", "agent:" + name}}},
                    {"status", {{"phase", phase}, {"authorization", {{"waitingFor", "2 approvals"}}}}}};
      };
      r.items = {req("late", "AwaitingAuthorization", "2026-12-05T02:00:00Z"),
                 req("ran", "Succeeded", "2026-12-05T00:00:00Z"),
                 req("early", "AwaitingAuthorization", "2026-12-05T01:00:00Z")};
    }
    return r;
  }

 private:
  json* policy_;
  bool may_write_;
};

class ConsoleWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-console-writes-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "assets");
    std::ofstream(dir_ / "assets" / "index.html") << "<html>the app</html>";
    std::ofstream(dir_ / "assets" / "login.html") << "<html>log in</html>";
    auto l = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), {});
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Close().ok());
    auto index = LedgerIndex::Open("file:" + (dir_ / "ledger.jsonl").string());
    ASSERT_TRUE(index.ok());
    index_ = std::move(*index);
    policy_ = {{"apiVersion", "execgov.io/v1alpha1"},
               {"kind", "ExecutionPolicy"},
               {"metadata", {{"name", "p1"}, {"resourceVersion", "1"}}},
               {"spec", {{"revocations", {{"jtis", {"old"}}}}}}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // RBAC lets alice (kGood) write, unless `rbac_refuses_all`.
  void Start(bool allow_writes, bool rbac_refuses_all = false) {
    ConsoleOptions o;
    o.index = index_.get();
    o.assets_dir = (dir_ / "assets").string();
    o.authenticator = &auth_;
    o.allow_writes = allow_writes;
    o.user_client = [this, rbac_refuses_all](const std::string& token) -> StatusOr<std::unique_ptr<kube::Client>> {
      tokens_used_.push_back(token);
      auto c = std::make_unique<UserClient>(&policy_, /*may_write=*/token == kGood && !rbac_refuses_all);
      c->created_ = &created_;
      return std::unique_ptr<kube::Client>(std::move(c));
    };
    auto c = Console::Create(o);
    ASSERT_TRUE(c.ok()) << c.status().message();
    console_ = std::move(*c);
  }
  webhook::HttpResponse Post(const std::string& path, const std::string& token, const std::string& body,
                             const std::string& type = "application/json") {
    webhook::HttpRequest r;
    r.method = "POST";
    r.target = path;
    r.authorization = token.empty() ? "" : "Bearer " + token;
    r.content_type = type;
    r.body = body;
    return console_->Handle(r);
  }
  webhook::HttpResponse Get(const std::string& path, const std::string& token) {
    webhook::HttpRequest r;
    r.method = "GET";
    r.target = path;
    r.authorization = "Bearer " + token;
    return console_->Handle(r);
  }

  fs::path dir_;
  FakeClock clock_{1790000000};
  FakeReviewer reviewer_;
  KubeReviewAuthenticator auth_{&reviewer_, KubeReviewOptions{{"execgov.io", "ledgers", "get", "ns", ""},
                                                              std::chrono::seconds(10), 16, &clock_}};
  std::unique_ptr<LedgerIndex> index_;
  std::unique_ptr<Console> console_;
  json policy_;
  std::vector<std::string> tokens_used_;
  std::vector<std::pair<std::string, json>> created_;
};

TEST_F(ConsoleWritesTest, OnlyReviewedUsersGetAnAnswer) {
  Start(false);
  EXPECT_EQ(Get("/api/head", kStranger).status, 401);
  EXPECT_EQ(Get("/api/head", kNobody).status, 401);
  auto who = Get("/api/whoami", kGood);
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(json::parse(who.body), json({{"user", "alice"}, {"groups", {"ops"}}, {"mode", "kubernetes"}, {"writes", false}}));
  EXPECT_EQ(Post("/api/login", "", json({{"token", kNobody}}).dump()).status, 401);
  EXPECT_EQ(Post("/api/login", "", json({{"token", kGood}}).dump()).status, 200);
}

TEST_F(ConsoleWritesTest, ReadOnlyByDefault) {
  Start(false);
  auto r = Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1"})");
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(tokens_used_.empty());
  EXPECT_EQ(Post("/api/revoke", kStranger, R"({"policy":"p1","jti":"j-1"})").status, 401);
}

TEST_F(ConsoleWritesTest, ARevokeIsMadeWithTheUsersOwnToken) {
  Start(true);
  auto r = Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(tokens_used_, std::vector<std::string>{kGood});
  EXPECT_EQ(policy_["spec"]["revocations"]["jtis"], json({"old", "j-1"}));
  ASSERT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","kid":"k-1"})").status, 200);
  EXPECT_EQ(policy_["spec"]["revocations"]["kids"], json({"k-1"}));
  ASSERT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1"})").status, 200);  // already: no change
  EXPECT_EQ(policy_["spec"]["revocations"]["jtis"], json({"old", "j-1"}));
}

TEST_F(ConsoleWritesTest, TheApiServersRefusalIsTheAnswer) {
  // alice may read the ledger, but RBAC does not let her update policies.
  Start(true, /*rbac_refuses_all=*/true);
  auto r = Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("forbidden"), std::string::npos);
  EXPECT_EQ(policy_["spec"]["revocations"]["jtis"], json({"old"}));
}

TEST_F(ConsoleWritesTest, WritesAreJsonAndBounded) {
  Start(true);
  // A cross-site form can send text/plain or a form encoding, never JSON.
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1"})", "text/plain").status, 415);
  EXPECT_EQ(Post("/api/revoke", kGood, "policy=p1&jti=j-1", "application/x-www-form-urlencoded").status, 415);
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1","extra":"x"})").status, 400);
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","jti":"j-1","kid":"k"})").status, 400);
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"P_1","jti":"j-1"})").status, 400);
  EXPECT_EQ(Post("/api/revoke", kGood, json({{"policy", "p1"}, {"jti", std::string(257, 'j')}}).dump()).status, 400);
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"p1","jti":"a b"})").status, 400);
  EXPECT_EQ(Post("/api/revoke", kGood, R"({"policy":"nope","jti":"j-1"})").status, 404);
  EXPECT_EQ(Post("/api/revoke", kGood, "not json").status, 400);
  EXPECT_EQ(Post("/api/records", kGood, "{}").status, 405);
  EXPECT_EQ(policy_["spec"]["revocations"]["jtis"], json({"old"}));
}

TEST_F(ConsoleWritesTest, TheGovernancePageShowsPendingRequestsAsTheUserSeesThem) {
  Start(true);
  auto r = Get("/api/governance", kGood);
  ASSERT_EQ(r.status, 200) << r.body;
  json g = json::parse(r.body);
  ASSERT_EQ(g["pending"].size(), 2u);
  EXPECT_EQ(g["pending"][0]["name"], "early");
  EXPECT_EQ(g["pending"][0]["initiator"], "agent:early");
  EXPECT_EQ(g["pending"][0]["waitingFor"], "2 approvals");
  EXPECT_EQ(g["pending"][1]["name"], "late");
  EXPECT_EQ(g["writes"], true);
  EXPECT_EQ(g["source"], "the API server");
  EXPECT_EQ(tokens_used_, std::vector<std::string>{kGood});
}

TEST_F(ConsoleWritesTest, ApproveAndDenyCreateAnApprovalAsTheUser) {
  Start(true);
  auto r = Post("/api/approve", kGood, R"({"namespace":"team-a","name":"early"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["by"], "alice");
  ASSERT_EQ(created_.size(), 1u);
  EXPECT_EQ(created_[0].first, "/apis/execgov.io/v1alpha1/namespaces/team-a/executionapprovals");
  const json& spec = created_[0].second["spec"];
  EXPECT_EQ(spec["approver"], "alice");  // the user the API server authenticated
  EXPECT_EQ(spec["decision"], "Approve");
  EXPECT_EQ(spec["requestUID"], "u-1");
  EXPECT_EQ(spec["requestDigest"].get<std::string>().substr(0, 7), "sha256:");
  EXPECT_EQ(created_[0].second["metadata"]["generateName"], "early-approve-");
  // A denial needs a reason; with one it is made.
  EXPECT_EQ(Post("/api/deny", kGood, R"({"namespace":"team-a","name":"early"})").status, 400);
  ASSERT_EQ(Post("/api/deny", kGood, R"({"namespace":"team-a","name":"early","reason":"not now"})").status, 200);
  EXPECT_EQ(created_[1].second["spec"]["decision"], "Deny");
  EXPECT_EQ(created_[1].second["spec"]["reason"], "not now");
  // Only a waiting request; bounded, known members only.
  EXPECT_EQ(Post("/api/approve", kGood, R"({"namespace":"team-a","name":"ran"})").status, 409);
  EXPECT_EQ(Post("/api/approve", kGood, R"({"namespace":"team-a","name":"early","approver":"root"})").status, 400);
  EXPECT_EQ(Post("/api/approve", kGood, json({{"namespace", "team-a"}, {"name", "early"}, {"reason", std::string(1025, 'r')}}).dump()).status, 400);
  EXPECT_EQ(Post("/api/approve", kGood, R"({"namespace":"team-a","name":"early"})", "text/plain").status, 415);
  EXPECT_EQ(created_.size(), 2u);
}

TEST_F(ConsoleWritesTest, AnApprovalRbacRefusesIsRefused) {
  // alice may read the ledger, but RBAC does not let her create approvals.
  Start(true, /*rbac_refuses_all=*/true);
  auto r = Post("/api/approve", kGood, R"({"namespace":"team-a","name":"early"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("the API server refused alice"), std::string::npos);
  EXPECT_TRUE(created_.empty());
}

}  // namespace
}  // namespace execgov::console
