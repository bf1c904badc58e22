// execgov serve over real HTTPS on a free loopback port: every reason code
// over the wire, modes, dry-run, UPDATE, TLS versions, bad input, concurrency,
// restarts and reloads.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "api/manifest.h"
#include "api/object.h"
#include "crypto/encoding.h"
#include "support/artifact_factory.h"
#include "support/server_process.h"
#include "support/subprocess.h"
#include "support/tls_client.h"

namespace execgov {
namespace {

using Json = nlohmann::json;
using testing::Authority;
using testing::HttpResponse;
using testing::TlsConnection;

// An AdmissionReview as the API server sends it: resource, kind and
// requestKind from the object's apiVersion and kind (kind "Job" -> "jobs").
Json Review(const Json& object, const std::string& user = "agent:test", const std::string& op = "CREATE",
            bool dry_run = false, const Json* old = nullptr, const std::string& uid = "") {
  std::string api_version = object.value("apiVersion", "");
  size_t slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  std::string kind = object.value("kind", "");
  std::string resource;
  for (char c : kind) resource += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Json gvk = {{"group", group}, {"version", version}, {"kind", kind}};
  Json req = {{"uid", uid.empty() ? crypto::HexEncode(crypto::RandomBytes(8)) : uid},
              {"kind", gvk},
              {"requestKind", gvk},
              {"resource", {{"group", group}, {"version", version}, {"resource", resource + "s"}}},
              {"name", api::NameOf(object)},
              {"namespace", api::NamespaceOf(object)},
              {"operation", op},
              {"userInfo", {{"username", user}}},
              {"dryRun", dry_run},
              {"object", object}};
  if (old) req["oldObject"] = *old;
  return {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", req}};
}

class WebhookTest : public ::testing::Test {
 protected:
  static inline testing::TempDir* dir_;
  static inline Authority* auth_;
  static inline testing::ServeProcess* server_;

  static Json Policy(const std::string& name, const std::string& ns, const std::function<void(Json&)>& edit = nullptr,
                     const std::string& mode = "Enforce") {
    Json p = testing::MakePolicy(name, {auth_}, mode);
    p["spec"]["match"]["namespaces"] = {ns};
    if (edit) edit(p["spec"]);
    return p;
  }

  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auth_ = new Authority(Authority::Make());
    std::filesystem::create_directories(dir_->File("policies"));
    std::vector<Json> policies = {
        Policy("default", "agents"),
        Policy("bound", "bound", [](Json& s) { s["bindRequester"] = true; }),
        Policy("images", "images", [](Json& s) { s["images"]["allowedRegistries"] = {"ghcr.io/*"}; }),
        Policy("revoked", "revoked", [](Json& s) { s["revocations"]["kids"] = {"ops-1"}; }),
        Policy("warn", "warn", nullptr, "Warn"),
        Policy("audit", "audit", nullptr, "Audit"),
    };
    for (const auto& p : policies) dir_->Write("policies/" + api::NameOf(p) + ".yaml", api::EmitYaml({p}));
    server_ = new testing::ServeProcess(dir_->File("policies"), dir_->File("state"));
  }

  static void TearDownTestSuite() {
    delete server_;
    delete auth_;
    delete dir_;
  }

  void SetUp() override { ASSERT_TRUE(server_->started()) << dir_->Read("state/serve.log"); }

  Json Send(const Json& review, testing::ServeProcess* server = nullptr) {
    server = server ? server : server_;
    std::string error;
    auto conn = TlsConnection::Connect(server->port(), server->ca_file(), &error);
    EXPECT_TRUE(conn) << error;
    if (!conn) return Json();
    HttpResponse resp;
    EXPECT_TRUE(conn->Post("/validate", review.dump(), &resp));
    EXPECT_EQ(resp.status, 200) << resp.body;
    return Json::parse(resp.body, nullptr, false);
  }

  Json SignedJob(const std::string& ns, const std::function<void(Json&)>& edit = nullptr, const std::string& name = "rotate") {
    Json job = testing::MakeJob(ns, name);
    job["metadata"]["uid"] = crypto::HexEncode(crypto::RandomBytes(8));
    Json claims = testing::ClaimsFor(job, *auth_, std::time(nullptr));
    if (edit) edit(claims);
    return testing::WithArtifact(job, testing::Sign(claims, *auth_));
  }

  static std::string ReasonOf(const Json& review) {
    const Json& r = review["response"];
    if (r.value("allowed", false)) return "Allowed";
    std::string msg = r["status"]["message"];
    // "execgov: <Reason>: ..."
    size_t a = msg.find(": "), b = msg.find(": ", a + 2);
    return msg.substr(a + 2, b - a - 2);
  }

  size_t LedgerLines() {
    std::ifstream in(dir_->File("state/ledger.jsonl"));
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += line.find("\"type\":\"admission\"") != std::string::npos;
    return n;
  }
};

TEST_F(WebhookTest, EveryReasonOverTheWire) {
  int64_t now = std::time(nullptr);
  Authority stranger = Authority::Make(crypto::KeyAlgorithm::kEd25519, "ops-authority", "unknown-kid");
  Authority forger = Authority::Make();
  auto signed_by = [&](const Authority& a) {
    Json job = testing::MakeJob("agents", "rotate");
    job["metadata"]["uid"] = crypto::HexEncode(crypto::RandomBytes(8));
    return testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, a, now), a));
  };
  Json replayed = SignedJob("agents");
  ASSERT_EQ(ReasonOf(Send(Review(replayed))), "Allowed");
  Json replay = replayed;
  replay["metadata"]["uid"] = "another-uid";
  replay["metadata"]["name"] = "again";
  Json digest = SignedJob("agents");
  digest["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1";
  Json internal = SignedJob("agents");
  internal["spec"]["template"]["spec"]["containers"] = "nope";
  Json hs256 = testing::MakeJob("agents", "rotate");
  hs256 = testing::WithArtifact(hs256, testing::SignWithHeader(R"({"alg":"HS256","kid":"ops-1","typ":"execgov-authz+jws"})",
                                                              testing::ClaimsFor(hs256, *auth_, now), *auth_));

  std::vector<std::pair<std::string, Json>> cases = {
      {"NoMatchingPolicy", Review(SignedJob("nomatch"))},
      {"MissingArtifact", Review(testing::MakeJob("agents", "rotate"))},
      {"MalformedArtifact", Review(testing::WithArtifact(testing::MakeJob("agents", "x"), "not.a.jws"))},
      {"UnsupportedAlgorithm", Review(hs256)},
      {"UnknownKey", Review(signed_by(stranger))},
      {"InvalidSignature", Review(signed_by(forger))},
      {"IssuerNotTrusted", Review(SignedJob("agents", [](Json& c) { c["iss"] = "other"; }))},
      {"Revoked", Review(SignedJob("revoked"))},
      {"ArtifactNotYetValid", Review(SignedJob("agents", [&](Json& c) { c["nbf"] = now + 300; }))},
      {"ArtifactExpired", Review(SignedJob("agents", [&](Json& c) {
         c["iat"] = now - 900;
         c["nbf"] = now - 900;
         c["exp"] = now - 300;
       }))},
      {"TTLExceedsPolicy", Review(SignedJob("agents", [&](Json& c) { c["exp"] = now + 7200; }))},
      {"AudienceMismatch", Review(SignedJob("agents", [](Json& c) { c["aud"] = "cluster-b"; }))},
      {"SubjectNotAllowed", Review(SignedJob("agents", [](Json& c) { c["sub"] = "human:eve"; }))},
      {"IdentityMismatch", Review(SignedJob("bound"), "agent:someone-else")},
      {"ScopeMismatch", Review(SignedJob("agents", [](Json& c) { c["scope"]["namespace"] = "prod"; }))},
      {"DigestMismatch", Review(digest)},
      {"ImageNotAllowed", Review(SignedJob("images"))},
      {"ReplayDetected", Review(replay)},
      {"LineageDiscontinuity", Review(SignedJob("agents", [](Json& c) { c["parent"] = "sha256:" + std::string(64, 'e'); }))},
      {"InternalError", Review(internal)},
  };
  for (const auto& [want, review] : cases) {
    Json resp = Send(review);
    EXPECT_EQ(ReasonOf(resp), want) << resp.dump();
    EXPECT_EQ(resp["response"]["uid"], review["request"]["uid"]);  // uid echo
    if (want != "Allowed") {
      EXPECT_EQ(resp["response"]["status"]["code"], 403);
      EXPECT_EQ(resp["response"]["auditAnnotations"]["reason"], want);
    }
  }
}

// Bad time claims, a scope without the projection, a review whose object or
// kinds are not what its resource says, and an object without a uid: each
// refused over the wire, each by its reason.
TEST_F(WebhookTest, HardenedDecisionOverTheWire) {
  int64_t now = std::time(nullptr);
  auto reason_and_message = [&](const Json& review) {
    Json resp = Send(review);
    EXPECT_EQ(resp["response"]["uid"], review["request"]["uid"]);
    if (!resp["response"].value("allowed", false)) {
      EXPECT_EQ(resp["response"]["status"]["code"], 403) << resp.dump();
    }
    return std::make_pair(ReasonOf(resp), resp["response"].value("status", Json::object()).value("message", ""));
  };
  auto expect = [&](const Json& review, const std::string& reason, const std::string& says) {
    auto [got, message] = reason_and_message(review);
    EXPECT_EQ(got, reason) << message;
    EXPECT_NE(message.find(says), std::string::npos) << message;
  };
  // Time claims (signed as written, so a float stays a float).
  auto raw = [&](const std::function<void(Json&)>& edit) {
    Json job = testing::MakeJob("agents", "rotate");
    job["metadata"]["uid"] = crypto::HexEncode(crypto::RandomBytes(8));
    Json claims = testing::ClaimsFor(job, *auth_, now);
    edit(claims);
    return testing::WithArtifact(
        job, testing::SignWithHeader(R"({"alg":"EdDSA","kid":"ops-1","typ":"execgov-authz+jws"})", claims, *auth_));
  };
  expect(Review(raw([](Json& c) { c["iat"] = std::numeric_limits<int64_t>::min(); })), "MalformedArtifact",
         "\"iat\" claim is -9223372036854775808");
  expect(Review(raw([](Json& c) { c["iat"] = 1e19; })), "MalformedArtifact", "\"iat\" claim is 1e+19");
  expect(Review(raw([](Json& c) { c["exp"] = std::numeric_limits<int64_t>::max(); })), "MalformedArtifact",
         "\"exp\" claim");
  expect(Review(raw([](Json& c) { c["nbf"] = uint64_t{1} << 63; })), "MalformedArtifact", "\"nbf\" claim");
  expect(Review(raw([&](Json& c) { c["exp"] = now + 365 * 24 * 3600; })), "TTLExceedsPolicy", "more than maxTTL 900s");
  // The projection.
  expect(Review(SignedJob("agents", [](Json& c) { c["scope"].erase("projection"); })), "MalformedArtifact",
         "the artifact's scope has no \"projection\": it was made for execution-scope projection 1, which is no "
         "longer accepted; sign it again");
  expect(Review(SignedJob("agents", [](Json& c) { c["scope"]["projection"] = 3; })), "MalformedArtifact",
         "scope.projection 3 is not supported (this execgov verifies projection 2)");

  // One kind, from the request's resource.
  Json job = SignedJob("agents");
  Json as_pod = Review(job);  // a pods review whose object is the signed Job
  as_pod["request"]["resource"] = {{"group", ""}, {"version", "v1"}, {"resource", "pods"}};
  as_pod["request"]["kind"] = as_pod["request"]["requestKind"] = {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}};
  expect(as_pod, "ScopeMismatch",
         "the request is for a Pod (v1) but its object is apiVersion \"batch/v1\" kind \"Job\"");
  Json lenient = Review(job);  // request.kind Job, but in the core group
  lenient["request"]["kind"]["group"] = "";
  expect(lenient, "ScopeMismatch", "the request is for a Job (resource jobs) but its kind is \"v1, Kind=Job\"");
  Json request_kind = Review(job);
  request_kind["request"]["requestKind"] = {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}};
  expect(request_kind, "ScopeMismatch", "but its requestKind is \"apps/v1, Kind=Deployment\"");
  Json status = Review(job);  // a subresource execgov does not govern
  status["request"]["subResource"] = "status";
  expect(status, "NoMatchingPolicy", "batch/v1/jobs/status is not governed by execgov");
  // The same Job, as it is, is still allowed.
  expect(Review(job), "Allowed", "");

  // A CREATE without metadata.uid is never allowed, even where an Audit or
  // Warn policy would allow what it carries.
  for (const char* ns : {"agents", "warn", "audit"}) {
    SCOPED_TRACE(ns);
    Json no_uid = SignedJob(ns);
    no_uid["metadata"].erase("uid");
    expect(Review(no_uid), "InternalError",
           "has no metadata.uid: the single use of its artifact cannot be recorded without one");
    Json unsigned_no_uid = testing::MakeJob(ns, "x");
    unsigned_no_uid["metadata"].erase("uid");
    expect(Review(unsigned_no_uid), "InternalError", "has no metadata.uid");
  }
}

TEST_F(WebhookTest, PolicyNotReadyUntilValidPoliciesLoad) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.File("p"));
  dir.Write("p/bad.yaml", "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: bad}\nspec: {}\n");
  testing::ServeProcess server(dir.File("p"), dir.File("state"));
  ASSERT_TRUE(server.started());
  std::string body;
  EXPECT_EQ(server.OpsGet("/readyz", &body), 503);
  EXPECT_EQ(server.OpsGet("/healthz", &body), 200);
  EXPECT_EQ(ReasonOf(Send(Review(SignedJob("agents")), &server)), "PolicyNotReady");

  // A valid policy set is picked up without a restart.
  dir.Write("p/bad.yaml", api::EmitYaml({Policy("default", "agents")}));
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    ready = server.OpsGet("/readyz", &body) == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ready);
  EXPECT_EQ(ReasonOf(Send(Review(SignedJob("agents")), &server)), "Allowed");

  // An invalid edit keeps the last good set and is counted.
  dir.Write("p/bad.yaml", "kind: [broken\n");
  bool counted = false;
  for (int i = 0; i < 100 && !counted; ++i) {
    server.OpsGet("/metrics", &body);
    counted = body.find("execgov_policy_reload_errors_total 1") != std::string::npos;
    if (!counted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(counted) << body;
  EXPECT_EQ(ReasonOf(Send(Review(SignedJob("agents")), &server)), "Allowed");
}

TEST_F(WebhookTest, WarnAndAuditModesAllowAndRecord) {
  size_t before = LedgerLines();
  Json warn = Send(Review(testing::MakeJob("warn", "x")));
  EXPECT_TRUE(warn["response"]["allowed"]);
  ASSERT_TRUE(warn["response"].contains("warnings")) << warn.dump();
  EXPECT_EQ(warn["response"]["warnings"][0].get<std::string>().rfind("execgov: MissingArtifact: ", 0), 0u);
  Json audit = Send(Review(testing::MakeJob("audit", "x")));
  EXPECT_TRUE(audit["response"]["allowed"]);
  EXPECT_FALSE(audit["response"].contains("warnings"));
  EXPECT_EQ(audit["response"]["auditAnnotations"]["reason"], "MissingArtifact");
  EXPECT_EQ(LedgerLines(), before + 2);
}

TEST_F(WebhookTest, DryRunChangesNoState) {
  Json job = SignedJob("agents");
  size_t before = LedgerLines();
  EXPECT_EQ(ReasonOf(Send(Review(job, "agent:test", "CREATE", true))), "Allowed");
  EXPECT_EQ(ReasonOf(Send(Review(job, "agent:test", "CREATE", true))), "Allowed");
  EXPECT_EQ(LedgerLines(), before);
  // The artifact was not consumed by the dry runs.
  EXPECT_EQ(ReasonOf(Send(Review(job))), "Allowed");
  EXPECT_EQ(LedgerLines(), before + 1);
}

TEST_F(WebhookTest, UpdateThatKeepsTheDigestIsAllowedAfterExpiry) {
  int64_t now = std::time(nullptr);
  Json expired = SignedJob("agents", [&](Json& c) {
    c["iat"] = now - 3600;
    c["nbf"] = now - 3600;
    c["exp"] = now - 3000;
  });
  Json labelled = expired;
  labelled["metadata"]["labels"]["phase"] = "done";
  EXPECT_EQ(ReasonOf(Send(Review(labelled, "system:serviceaccount:kube-system:job-controller", "UPDATE", false, &expired))),
            "Allowed");
  Json changed = expired;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "other:2";
  EXPECT_EQ(ReasonOf(Send(Review(changed, "agent:test", "UPDATE", false, &expired))), "ArtifactExpired");
  EXPECT_EQ(ReasonOf(Send(Review(expired, "agent:test", "DELETE"))), "Allowed");
}

TEST_F(WebhookTest, OldTlsVersionsAreRefused) {
  std::string error;
  EXPECT_FALSE(TlsConnection::Connect(server_->port(), "", &error, TLS1_1_VERSION, TLS1_VERSION));
  EXPECT_NE(error.find("handshake failed"), std::string::npos);
  EXPECT_TRUE(TlsConnection::Connect(server_->port(), server_->ca_file(), &error, TLS1_2_VERSION, TLS1_2_VERSION)) << error;
  EXPECT_TRUE(TlsConnection::Connect(server_->port(), server_->ca_file(), &error, TLS1_3_VERSION, TLS1_3_VERSION)) << error;
}

TEST_F(WebhookTest, BadRequestsGetClearErrors) {
  std::string error;
  auto conn = TlsConnection::Connect(server_->port(), server_->ca_file(), &error);
  ASSERT_TRUE(conn) << error;
  auto post = [&](const std::string& body, HttpResponse* r) { return conn->Post("/validate", body, r); };
  HttpResponse r;
  ASSERT_TRUE(post("this is not json", &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not JSON"), std::string::npos) << r.body;
  ASSERT_TRUE(post(R"({"kind":"Pod"})", &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not an AdmissionReview"), std::string::npos);
  Json no_uid = Review(SignedJob("agents"));
  no_uid["request"].erase("uid");
  ASSERT_TRUE(post(no_uid.dump(), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("no uid"), std::string::npos);
  Json v1beta1 = Review(SignedJob("agents"));
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  ASSERT_TRUE(post(v1beta1.dump(), &r));
  EXPECT_EQ(r.status, 400);
  Json no_resource = Review(SignedJob("agents"));
  no_resource["request"].erase("resource");
  ASSERT_TRUE(post(no_resource.dump(), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("no resource"), std::string::npos) << r.body;

  // A kind execgov does not govern is denied, clearly.
  Json deployment = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "d"}, {"namespace", "agents"}}}};
  Json resp = Send(Review(deployment));
  EXPECT_FALSE(resp["response"]["allowed"]);
  EXPECT_NE(resp["response"]["status"]["message"].get<std::string>().find("is not governed"), std::string::npos);

  // Answers given from the headers alone close the connection (the body is
  // never read), so each of these uses a connection of its own.
  auto early = [&](const std::string& request, HttpResponse* out) {
    auto c = TlsConnection::Connect(server_->port(), server_->ca_file(), &error);
    return c && c->Send(request) && c->Read(out);
  };
  ASSERT_TRUE(early("GET /validate HTTP/1.1\r\nHost: x\r\n\r\n", &r));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  ASSERT_TRUE(early("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", &r));
  EXPECT_EQ(r.status, 415);
  ASSERT_TRUE(early("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r));
  EXPECT_EQ(r.status, 404);

  // Over 3 MiB: refused from the headers alone, before any body is sent.
  auto big = TlsConnection::Connect(server_->port(), server_->ca_file(), &error);
  ASSERT_TRUE(big);
  ASSERT_TRUE(big->Send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string((3 << 20) + 1) + "\r\n\r\n"));
  ASSERT_TRUE(big->Read(&r, 5000));
  EXPECT_EQ(r.status, 413);
}

TEST_F(WebhookTest, AStalledClientDoesNotHoldUpOthers) {
  std::string error;
  auto stalled = TlsConnection::Connect(server_->port(), server_->ca_file(), &error);
  ASSERT_TRUE(stalled);
  // Half a request, then silence.
  ASSERT_TRUE(stalled->Send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\""));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ReasonOf(Send(Review(SignedJob("agents")))), "Allowed");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(WebhookTest, SixtyFourConcurrentClientsAndOneWinnerPerArtifact) {
  constexpr int kClients = 64;
  Json shared = SignedJob("agents");
  std::atomic<int> ok{0}, allowed_shared{0}, replays{0}, failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::string error;
      auto conn = TlsConnection::Connect(server_->port(), server_->ca_file(), &error);
      if (!conn) {
        ++failures;
        return;
      }
      for (int j = 0; j < 5; ++j) {
        Json job = j == 0 ? shared : SignedJob("agents");
        if (j == 0) job["metadata"]["uid"] = "client-" + std::to_string(i);
        Json review = Review(job);
        HttpResponse r;
        if (!conn->Post("/validate", review.dump(), &r) || r.status != 200) {
          ++failures;
          continue;
        }
        Json resp = Json::parse(r.body);
        if (resp["response"]["uid"] != review["request"]["uid"]) ++failures;
        std::string reason = ReasonOf(resp);
        if (j == 0) {
          if (reason == "Allowed") ++allowed_shared;
          else if (reason == "ReplayDetected") ++replays;
        } else if (reason == "Allowed") {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ok.load(), kClients * 4);
  EXPECT_EQ(allowed_shared.load(), 1);  // exactly one object gets the shared artifact
  EXPECT_EQ(replays.load(), kClients - 1);
}

TEST_F(WebhookTest, ConsumedArtifactsSurviveARestart) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.File("p"));
  dir.Write("p/default.yaml", api::EmitYaml({Policy("default", "agents")}));
  Json job = SignedJob("agents");
  Json again = job;
  again["metadata"]["uid"] = "second";
  {
    testing::ServeProcess server(dir.File("p"), dir.File("state"));
    ASSERT_TRUE(server.started());
    EXPECT_EQ(ReasonOf(Send(Review(job), &server)), "Allowed");
    EXPECT_EQ(server.Stop(), 0);
  }
  testing::ServeProcess server(dir.File("p"), dir.File("state"));
  ASSERT_TRUE(server.started());
  EXPECT_EQ(ReasonOf(Send(Review(again), &server)), "ReplayDetected");
  // The ledger the two runs wrote verifies.
  auto v = testing::RunCommand(std::string(EXECGOV_BINARY) + " ledger verify --ledger file:" + dir.File("state/ledger.jsonl") +
                               " --checkpoint-key " + dir.File("state/ledger.jsonl.key.pub"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// A stop under load: every "allowed" the server sent names a ledger record
// that is in the ledger, for that object, and the server exits cleanly. An
// answer waits for its record's fsync without holding a thread, so this is
// what keeps a stop from answering before the record is durable.
TEST_F(WebhookTest, StopUnderLoadNeverAnswersAllowedWithoutItsRecord) {
  // A client writing to a connection the stopping server closed gets EPIPE,
  // not a signal that ends the test.
  std::signal(SIGPIPE, SIG_IGN);
  testing::TempDir dir;
  std::filesystem::create_directories(dir.File("p"));
  dir.Write("p/default.yaml", api::EmitYaml({Policy("default", "agents")}));
  testing::ServeProcess server(dir.File("p"), dir.File("state"));
  ASSERT_TRUE(server.started());
  constexpr int kClients = 16;
  std::mutex mu;
  std::map<uint64_t, std::string> allowed;  // ledger-seq -> object uid
  std::atomic<int> answered{0};
  std::atomic<bool> stop{false};
  std::atomic<int> running{kClients};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      struct Done {
        std::atomic<int>& n;
        ~Done() { --n; }
      } done{running};
      std::string error;
      auto conn = TlsConnection::Connect(server.port(), server.ca_file(), &error);
      while (conn && !stop) {
        Json job = SignedJob("agents");
        HttpResponse r;
        if (!conn->Post("/validate", Review(job).dump(), &r)) break;  // closed by the stop
        if (r.status != 200) break;
        Json resp = Json::parse(r.body, nullptr, false);
        ++answered;
        if (ReasonOf(resp) != "Allowed") continue;
        std::lock_guard lock(mu);
        allowed[std::stoull(resp["response"]["auditAnnotations"]["ledger-seq"].get<std::string>())] =
            job["metadata"]["uid"];
      }
    });
  }
  while (answered < 200 && running > 0) std::this_thread::yield();
  EXPECT_EQ(server.Stop(), 0);
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GE(allowed.size(), 200u);
  std::map<uint64_t, std::string> recorded;  // seq -> object uid, of admission records
  std::ifstream in(dir.File("state/ledger.jsonl"));
  for (std::string line; std::getline(in, line);) {
    Json r = Json::parse(line, nullptr, false);
    if (r.value("type", "") == "admission") recorded[r["seq"].get<uint64_t>()] = r["object"]["uid"];
  }
  for (const auto& [seq, uid] : allowed) {
    auto it = recorded.find(seq);
    ASSERT_NE(it, recorded.end()) << "allowed with ledger-seq " << seq << ", which is not in the ledger";
    EXPECT_EQ(it->second, uid) << "ledger-seq " << seq;
  }
}

TEST_F(WebhookTest, InheritanceByTrustedControllers) {
  Json ereq = testing::MakeExecutionRequest("agents", "req");
  ereq["metadata"]["uid"] = crypto::HexEncode(crypto::RandomBytes(8));
  std::string token = testing::Sign(testing::ClaimsFor(ereq, *auth_, std::time(nullptr)), *auth_);
  ereq = testing::WithArtifact(ereq, token);
  ASSERT_EQ(ReasonOf(Send(Review(ereq))), "Allowed");
  Json job = testing::WithArtifact(testing::MakeJob("agents", "req-job"), token);
  job["metadata"]["uid"] = "job-uid-1";
  job["metadata"]["ownerReferences"] = {{{"apiVersion", "execgov.io/v1alpha1"}, {"kind", "ExecutionRequest"},
                                         {"name", "req"}, {"uid", ereq["metadata"]["uid"]}, {"controller", true}}};
  EXPECT_EQ(ReasonOf(Send(Review(job, "system:serviceaccount:execgov-system:execgov-operator"))), "Allowed");
  for (int i = 0; i < 3; ++i) {
    Json pod = testing::WithArtifact(testing::MakePod("agents", "req-job-" + std::to_string(i)), token);
    pod["metadata"]["uid"] = "pod-uid-" + std::to_string(i);
    pod["metadata"]["ownerReferences"] = {
        {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "req-job"}, {"uid", "job-uid-1"}, {"controller", true}}};
    EXPECT_EQ(ReasonOf(Send(Review(pod, "system:serviceaccount:kube-system:job-controller"))), "Allowed");
  }
}

TEST_F(WebhookTest, MetricsPassPromtool) {
  Send(Review(SignedJob("agents")));
  std::string body;
  ASSERT_EQ(server_->OpsGet("/metrics", &body), 200);
  for (const char* name : {"execgov_admission_requests_total", "execgov_admission_duration_seconds_bucket",
                           "execgov_signature_verifications_total", "execgov_ledger_appends_total",
                           "execgov_ledger_append_duration_seconds", "execgov_ledger_head_sequence", "execgov_policies_loaded",
                           "execgov_log_lines_left_out_total 0"}) {
    EXPECT_NE(body.find(name), std::string::npos) << name;
  }
  testing::TempDir dir;
  dir.Write("metrics.txt", body);
  auto r = testing::RunCommand("promtool check metrics < metrics.txt", dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(WebhookTest, CertificatesReloadWithoutRestart) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.File("p"));
  dir.Write("p/default.yaml", api::EmitYaml({Policy("default", "agents")}));
  auto make_cert = [&](const std::string& name) {
    auto r = testing::RunCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=" +
                                     name + " -addext subjectAltName=IP:127.0.0.1 -keyout " + name + ".key -out " + name +
                                     ".crt 2>/dev/null",
                                 dir.path());
    ASSERT_EQ(r.exit_code, 0);
  };
  make_cert("one");
  make_cert("two");
  std::filesystem::copy_file(dir.File("one.crt"), dir.File("tls.crt"));
  std::filesystem::copy_file(dir.File("one.key"), dir.File("tls.key"));
  testing::ServeProcess server(dir.File("p"), dir.File("state"),
                               {"--tls-cert", dir.File("tls.crt"), "--tls-key", dir.File("tls.key")});
  ASSERT_TRUE(server.started());
  std::string error;
  auto first = TlsConnection::Connect(server.port(), dir.File("one.crt"), &error);
  ASSERT_TRUE(first) << error;
  std::string fp1 = first->PeerCertificateFingerprint();
  // Rotate: key first, then certificate, each by atomic rename.
  std::filesystem::copy_file(dir.File("two.key"), dir.File("tls.key.new"));
  std::filesystem::rename(dir.File("tls.key.new"), dir.File("tls.key"));
  std::filesystem::copy_file(dir.File("two.crt"), dir.File("tls.crt.new"));
  std::filesystem::rename(dir.File("tls.crt.new"), dir.File("tls.crt"));
  std::string fp2;
  for (int i = 0; i < 50 && (fp2.empty() || fp2 == fp1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto c = TlsConnection::Connect(server.port(), "", &error);
    if (c) fp2 = c->PeerCertificateFingerprint();
  }
  EXPECT_NE(fp2, fp1);
  auto second = TlsConnection::Connect(server.port(), dir.File("two.crt"), &error);
  EXPECT_TRUE(second) << error;
  // The connection opened before the rotation still works.
  HttpResponse r;
  EXPECT_TRUE(first->Post("/validate", Review(SignedJob("agents")).dump(), &r));
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace execgov
