// policy::Decide: every reason code of docs/design.md §4.2 produced on its own, the
// order in which they apply, inheritance, modes and UPDATE semantics.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <map>
#include <set>

#include "api/object.h"
#include "crypto/encoding.h"
#include "policy/decision.h"
#include "support/artifact_factory.h"

namespace execgov::policy {
namespace {

using testing::Authority;
using Json = nlohmann::json;

class MemReplay : public ReplayView {
 public:
  std::optional<Consumption> Find(const std::string& jti, const std::string& inheritor_uid) const override {
    auto it = m.find(jti);
    if (it == m.end()) return std::nullopt;
    Consumption c = it->second;
    c.inherited = inheritors.count({jti, inheritor_uid}) > 0;
    return c;
  }
  std::map<std::string, Consumption> m;
  std::set<std::pair<std::string, std::string>> inheritors;  // (jti, uid)
};

class MemLineage : public LineageView {
 public:
  bool HasRecord(const std::string& ref) const override { return records.count(ref) > 0; }
  std::set<std::string> records;
};

constexpr int64_t kNow = 1800000000;

class DecisionTest : public ::testing::Test {
 protected:
  Authority auth_ = Authority::Make();
  MemReplay replay_;
  MemLineage lineage_;
  PolicySet set_;
  std::string user_ = "agent:test";

  void SetUp() override { Load({testing::MakePolicy("default", {&auth_})}); }

  void Load(const std::vector<Json>& policies) {
    set_ = PolicySet();
    for (const auto& p : policies) {
      auto compiled = CompilePolicy(p);
      ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
      set_.policies.push_back(*compiled);
    }
    set_.ready = true;
  }

  // Changes the default policy's spec and reloads it.
  void EditPolicy(const std::function<void(Json&)>& edit) {
    Json p = testing::MakePolicy("default", {&auth_});
    edit(p["spec"]);
    Load({p});
  }

  // The attributes of a request for `object` (which must outlive them).
  AdmissionAttributes Attrs(const Json& object, Operation op = Operation::kCreate, const Json* old = nullptr) {
    AdmissionAttributes a;
    a.kind = api::KindOf(object);
    a.operation = op;
    a.ns = api::NamespaceOf(object);
    a.name = api::NameOf(object);
    a.uid = api::UidOf(object);
    a.object = &object;
    a.old_object = old;
    a.user = user_;
    return a;
  }

  DecisionInputs Inputs() {
    DecisionInputs in;
    in.policies = &set_;
    in.now = kNow;
    in.replay = &replay_;
    in.lineage = &lineage_;
    return in;
  }

  Decision Run(const Json& object, Operation op = Operation::kCreate, const Json* old = nullptr) {
    return Decide(Attrs(object, op, old), Inputs());
  }

  // A Job signed with the default claims, after `edit` changed them.
  Json SignedJob(const std::function<void(Json&)>& edit = nullptr, const Authority* signer = nullptr) {
    Json job = testing::MakeJob("agents", "rotate");
    Json claims = testing::ClaimsFor(job, auth_, kNow);
    if (edit) edit(claims);
    return testing::WithArtifact(job, testing::Sign(claims, signer ? *signer : auth_));
  }

  // The same, signed over the claims as written (claims.dump(), not the
  // canonical form, which prints 1e19 and 2.0 as integers), so each value
  // reaches the decision in the JSON type the test gave it.
  Json SignedAsWritten(const std::function<void(Json&)>& edit) {
    Json job = testing::MakeJob("agents", "rotate");
    Json claims = testing::ClaimsFor(job, auth_, kNow);
    edit(claims);
    return testing::WithArtifact(
        job, testing::SignWithHeader(R"({"alg":"EdDSA","kid":"ops-1","typ":"execgov-authz+jws"})", claims, auth_));
  }

  void Consume(const Decision& d, const Json& obj) {
    ASSERT_TRUE(d.artifact.has_value());
    replay_.m[d.artifact->jti] = {api::KindOf(obj), api::NamespaceOf(obj), api::NameOf(obj), api::UidOf(obj)};
  }
};

#define EXPECT_REASON(decision, want)                                                                  \
  do {                                                                                                 \
    const Decision& _d = (decision);                                                                   \
    EXPECT_FALSE(_d.allowed) << _d.StatusMessage();                                                    \
    EXPECT_EQ(ReasonName(_d.reason), std::string(ReasonName(want))) << _d.StatusMessage();            \
    EXPECT_FALSE(_d.message.empty());                                                                  \
    EXPECT_EQ(_d.StatusMessage().rfind(std::string("execgov: ") + ReasonName(want) + ": ", 0), 0u);    \
  } while (0)

TEST_F(DecisionTest, SignedJobIsAllowedAndConsumesItsArtifact) {
  Decision d = Run(SignedJob());
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.verified);
  EXPECT_EQ(d.replay_action, ReplayAction::kConsume);
  ASSERT_TRUE(d.artifact.has_value());
  EXPECT_EQ(d.artifact->iss, "ops-authority");
  EXPECT_EQ(d.artifact->digest, d.object_digest);
}

TEST_F(DecisionTest, Es256ArtifactsAreAllowed) {
  Authority ec = Authority::Make(crypto::KeyAlgorithm::kES256, "ec-authority", "ec-1");
  Load({testing::MakePolicy("default", {&ec})});
  Json job = testing::MakeJob("agents", "rotate");
  Decision d = Run(testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, ec, kNow), ec)));
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
}

// One case per reason code. The table must cover AllReasons(), so a new code
// cannot be added without a test that produces it.
class EveryReasonTest : public DecisionTest {
 protected:
  std::map<Reason, std::function<Decision()>> Cases() {
    std::map<Reason, std::function<Decision()>> c;
    c[Reason::kPolicyNotReady] = [&] {
      set_.ready = false;
      return Run(SignedJob());
    };
    c[Reason::kNoMatchingPolicy] = [&] {
      EditPolicy([](Json& s) { s["match"]["namespaces"] = {"elsewhere"}; });
      return Run(SignedJob());
    };
    c[Reason::kMissingArtifact] = [&] { return Run(testing::MakeJob("agents", "rotate")); };
    c[Reason::kMalformedArtifact] = [&] { return Run(SignedJob([](Json& cl) { cl.erase("jti"); })); };
    c[Reason::kUnsupportedAlgorithm] = [&] {
      Json job = testing::MakeJob("agents", "rotate");
      return Run(testing::WithArtifact(
          job, testing::SignWithHeader(R"({"alg":"HS256","kid":"ops-1","typ":"execgov-authz+jws"})",
                                       testing::ClaimsFor(job, auth_, kNow), auth_)));
    };
    c[Reason::kUnknownKey] = [&] {
      Authority other = Authority::Make(crypto::KeyAlgorithm::kEd25519, "ops-authority", "unknown-kid");
      return Run(SignedJob(nullptr, &other));
    };
    c[Reason::kInvalidSignature] = [&] {
      // Same kid and issuer, but a key the policy does not hold.
      Authority forger = Authority::Make();
      return Run(SignedJob(nullptr, &forger));
    };
    c[Reason::kIssuerNotTrusted] = [&] { return Run(SignedJob([](Json& cl) { cl["iss"] = "someone-else"; })); };
    c[Reason::kRevoked] = [&] {
      EditPolicy([](Json& s) { s["revocations"]["kids"] = {"ops-1"}; });
      return Run(SignedJob());
    };
    c[Reason::kArtifactNotYetValid] = [&] {
      return Run(SignedJob([](Json& cl) { cl["nbf"] = kNow + 120; }));
    };
    c[Reason::kArtifactExpired] = [&] {
      return Run(SignedJob([](Json& cl) {
        cl["iat"] = kNow - 700;
        cl["nbf"] = kNow - 700;
        cl["exp"] = kNow - 100;
      }));
    };
    c[Reason::kTTLExceedsPolicy] = [&] { return Run(SignedJob([](Json& cl) { cl["exp"] = kNow + 3600; })); };
    c[Reason::kAudienceMismatch] = [&] { return Run(SignedJob([](Json& cl) { cl["aud"] = "cluster-b"; })); };
    c[Reason::kSubjectNotAllowed] = [&] { return Run(SignedJob([](Json& cl) { cl["sub"] = "human:mallory"; })); };
    c[Reason::kIdentityMismatch] = [&] {
      EditPolicy([](Json& s) { s["bindRequester"] = true; });
      user_ = "agent:other";
      return Run(SignedJob());
    };
    c[Reason::kScopeMismatch] = [&] { return Run(SignedJob([](Json& cl) { cl["scope"]["namespace"] = "prod"; })); };
    c[Reason::kDigestMismatch] = [&] {
      Json job = SignedJob();
      job["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/tools/evil:1";
      return Run(job);
    };
    c[Reason::kImageNotAllowed] = [&] {
      EditPolicy([](Json& s) { s["images"]["allowedRegistries"] = {"ghcr.io/*"}; });
      return Run(SignedJob());
    };
    c[Reason::kReplayDetected] = [&] {
      Json first = SignedJob();
      Consume(Run(first), first);
      Json second = first;
      second["metadata"]["name"] = "rotate-again";
      second["metadata"]["uid"] = "uid-second";
      return Run(second);
    };
    c[Reason::kLineageDiscontinuity] = [&] {
      return Run(SignedJob([](Json& cl) { cl["parent"] = "sha256:" + std::string(64, 'a'); }));
    };
    c[Reason::kInternalError] = [&] {
      Json job = SignedJob();
      job["spec"]["template"]["spec"]["containers"] = "not a list";
      return Run(job);
    };
    return c;
  }
};

TEST_F(EveryReasonTest, EachCodeIsProducedExactly) {
  auto cases = Cases();
  for (Reason r : AllReasons()) {
    SCOPED_TRACE(ReasonName(r));
    ASSERT_TRUE(cases.count(r)) << "no test produces " << ReasonName(r);
    SetUp();
    replay_.m.clear();
    user_ = "agent:test";
    EXPECT_REASON(cases[r](), r);
  }
}

TEST_F(DecisionTest, FirstApplicableReasonWins) {
  // Expired, wrong audience and wrong namespace at once: expiry comes first.
  Decision d = Run(SignedJob([](Json& cl) {
    cl["iat"] = kNow - 700;
    cl["nbf"] = kNow - 700;
    cl["exp"] = kNow - 100;
    cl["aud"] = "cluster-b";
    cl["scope"]["namespace"] = "prod";
  }));
  EXPECT_REASON(d, Reason::kArtifactExpired);
  // A forged signature hides everything after it, even an untrusted issuer.
  Authority forger = Authority::Make();
  EXPECT_REASON(Run(SignedJob([](Json& cl) { cl["iss"] = "x"; }, &forger)), Reason::kInvalidSignature);
}

TEST_F(DecisionTest, TamperCases) {
  Json job = SignedJob();
  Json command = job;
  command["spec"]["template"]["spec"]["containers"][0]["command"] = {"/bin/sh"};
  EXPECT_REASON(Run(command), Reason::kDigestMismatch);
  Json ns = job;
  ns["metadata"]["namespace"] = "prod";
  EXPECT_REASON(Run(ns), Reason::kScopeMismatch);
  Json env = job;
  env["spec"]["template"]["spec"]["containers"][0]["env"] = {{{"name", "MODE"}, {"value", "unsafe"}}};
  EXPECT_REASON(Run(env), Reason::kDigestMismatch);
  Json sa = job;
  sa["spec"]["template"]["spec"]["serviceAccountName"] = "admin";
  EXPECT_REASON(Run(sa), Reason::kDigestMismatch);

  // Swap in the signature of another valid artifact.
  std::string token = *api::ArtifactOf(job);
  std::string other = *api::ArtifactOf(SignedJob());
  std::string swapped = token.substr(0, token.rfind('.')) + other.substr(other.rfind('.'));
  EXPECT_REASON(Run(testing::WithArtifact(job, swapped)), Reason::kInvalidSignature);
  // Change one claim without re-signing.
  std::string payload = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  Json claims = Json::parse(*crypto::Base64UrlDecode(payload));
  claims["sub"] = "agent:root";
  std::string edited = token.substr(0, token.find('.')) + "." + crypto::Base64UrlEncode(claims.dump()) +
                       token.substr(token.rfind('.'));
  EXPECT_REASON(Run(testing::WithArtifact(job, edited)), Reason::kInvalidSignature);
}

// Decide keeps what it parsed of recent artifacts, per thread, by their
// exact bytes. Forty artifacts (more than it keeps, so they displace one
// another), each decided, then again after a tampered copy of it and after
// an artifact that is no JWS: every answer is the one its own bytes give.
TEST_F(DecisionTest, ParsedArtifactsAreKeptByTheirExactBytesOnly) {
  std::vector<Json> jobs;
  for (int i = 0; i < 40; ++i) jobs.push_back(SignedJob());
  for (int round = 0; round < 2; ++round) {
    for (const Json& job : jobs) {
      std::string token = *api::ArtifactOf(job);
      Json claims = Json::parse(*crypto::Base64UrlDecode(
          token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1)));
      Decision d = Run(job);
      ASSERT_TRUE(d.allowed) << d.StatusMessage();
      ASSERT_TRUE(d.artifact.has_value());
      EXPECT_EQ(d.artifact->jti, claims["jti"].get<std::string>());
      // One byte of the signature changed: parsed the same, verified anew.
      std::string tampered = token;
      char& c = tampered[token.rfind('.') + 5];
      c = c == 'A' ? 'B' : 'A';
      EXPECT_REASON(Run(testing::WithArtifact(job, tampered)), Reason::kInvalidSignature);
      EXPECT_REASON(Run(testing::WithArtifact(job, token.substr(0, token.rfind('.')))), Reason::kMalformedArtifact);
      EXPECT_REASON(Run(testing::WithArtifact(job, token.substr(0, token.rfind('.')))), Reason::kMalformedArtifact);
      EXPECT_TRUE(Run(job).allowed);
    }
  }
}

TEST_F(DecisionTest, KeyPinnedToAnotherAlgorithm) {
  Json job = testing::MakeJob("agents", "rotate");
  Authority ec = Authority::Make(crypto::KeyAlgorithm::kES256, "ops-authority", "ops-1");
  EXPECT_REASON(Run(testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, ec, kNow), ec))),
                Reason::kUnsupportedAlgorithm);
}

TEST_F(DecisionTest, KeyPastNotAfterIsNoLongerTrusted) {
  EditPolicy([](Json& s) { s["issuers"][0]["keys"][0]["notAfter"] = "2020-01-01T00:00:00Z"; });
  EXPECT_REASON(Run(SignedJob()), Reason::kUnknownKey);
}

TEST_F(DecisionTest, RevokedJti) {
  Json job = SignedJob();
  Decision d = Run(job);
  ASSERT_TRUE(d.allowed);
  std::string jti = d.artifact->jti;
  EditPolicy([&](Json& s) { s["revocations"]["jtis"] = {jti}; });
  EXPECT_REASON(Run(job), Reason::kRevoked);
}

TEST_F(DecisionTest, ClockSkewIsHonoured) {
  EXPECT_TRUE(Run(SignedJob([](Json& cl) { cl["nbf"] = kNow + 20; })).allowed);
  EXPECT_TRUE(Run(SignedJob([](Json& cl) {
                cl["iat"] = kNow - 620;
                cl["exp"] = kNow - 20;
              })).allowed);
}

// Time claims are JSON integers in 0..kMaxNumericDate, each bad one refused
// by name; nothing is floored, wrapped or read past int64.
TEST_F(DecisionTest, TimeClaimsAreBoundedIntegers) {
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  const uint64_t k2p63 = uint64_t{1} << 63;
  struct Case {
    const char* claim;
    Json value;
  };
  const std::vector<Case> refused = {
      {"iat", kMin},           {"iat", 1e19},          {"iat", -1},           {"iat", 1.5},
      {"iat", static_cast<double>(kNow)},  // 1800000000.0: a float, even with no fraction
      {"iat", true},           {"iat", "1800000000"},  {"iat", nullptr},      {"iat", Json::array({kNow})},
      {"exp", kMax},           {"exp", k2p63},         {"exp", 1e19},         {"exp", 253402300800},
      {"exp", -1},             {"exp", false},         {"exp", "soon"},       {"exp", kNow + 0.5},
      {"nbf", k2p63},          {"nbf", kMin},          {"nbf", -1},           {"nbf", 1e19},
      {"nbf", 1.5},            {"nbf", true},          {"nbf", "now"},        {"nbf", 253402300800},
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(std::string(c.claim) + " = " + c.value.dump());
    Decision d = Run(SignedAsWritten([&](Json& cl) { cl[c.claim] = c.value; }));
    EXPECT_REASON(d, Reason::kMalformedArtifact);
    EXPECT_NE(d.message.find(std::string("\"") + c.claim + "\" claim"), std::string::npos) << d.message;
    EXPECT_FALSE(d.artifact.has_value());
  }
  for (const char* claim : {"iat", "exp"}) {
    Decision d = Run(SignedAsWritten([&](Json& cl) { cl.erase(claim); }));
    EXPECT_REASON(d, Reason::kMalformedArtifact);
    EXPECT_NE(d.message.find(std::string("no \"") + claim + "\" claim"), std::string::npos) << d.message;
  }
  // nbf is optional; the bounds themselves are accepted as values.
  EXPECT_TRUE(Run(SignedAsWritten([](Json& cl) { cl.erase("nbf"); })).allowed);
  EXPECT_TRUE(Run(SignedAsWritten([](Json& cl) { cl["nbf"] = 0; })).allowed);
  Decision far = Run(SignedAsWritten([](Json& cl) {
    cl["iat"] = kMaxNumericDate - 600;
    cl["nbf"] = kMaxNumericDate - 600;
    cl["exp"] = kMaxNumericDate;
  }));
  EXPECT_REASON(far, Reason::kArtifactNotYetValid);
  ASSERT_TRUE(far.artifact.has_value());
  EXPECT_EQ(ConsumptionExpiry(*far.artifact), kMaxNumericDate + kMaxClockSkewSeconds);
}

// The attacks the wrapping arithmetic let through: each validly signed.
TEST_F(DecisionTest, TimeArithmeticCannotWrap) {
  // A year's validity against a 15 minute maxTTL, with iat at INT64_MIN
  // (exp - iat wrapped negative) or 1e19 (floored to INT64_MIN).
  const int64_t year = 365 * 24 * 3600;
  for (Json iat : {Json(std::numeric_limits<int64_t>::min()), Json(1e19)}) {
    SCOPED_TRACE(iat.dump());
    EXPECT_REASON(Run(SignedAsWritten([&](Json& cl) {
                    cl["iat"] = iat;
                    cl["nbf"] = kNow;
                    cl["exp"] = kNow + year;
                  })),
                  Reason::kMalformedArtifact);
  }
  // The same year with honest claims: TTLExceedsPolicy.
  Decision year_long = Run(SignedAsWritten([&](Json& cl) { cl["exp"] = kNow + year; }));
  EXPECT_REASON(year_long, Reason::kTTLExceedsPolicy);
  EXPECT_NE(year_long.message.find(std::to_string(year) + "s, more than maxTTL 900s"), std::string::npos)
      << year_long.message;
  // exp at INT64_MAX wrapped the consumption's expiry into the past (and a
  // restart forgot the consumption); nbf 2^63 wrapped into the past.
  EXPECT_REASON(Run(SignedAsWritten([](Json& cl) { cl["exp"] = std::numeric_limits<int64_t>::max(); })),
                Reason::kMalformedArtifact);
  EXPECT_REASON(Run(SignedAsWritten([](Json& cl) { cl["nbf"] = uint64_t{1} << 63; })), Reason::kMalformedArtifact);
  // A clock outside the range is refused before any arithmetic.
  for (int64_t now : {int64_t{-1}, kMaxNumericDate + 1, std::numeric_limits<int64_t>::max()}) {
    DecisionInputs in = Inputs();
    in.now = now;
    Decision d = Decide(Attrs(SignedJob()), in);
    EXPECT_REASON(d, Reason::kInternalError);
    EXPECT_NE(d.message.find("the clock reads " + std::to_string(now)), std::string::npos) << d.message;
  }
}

TEST_F(DecisionTest, ScopeNamesTheProjectionItWasMadeFor) {
  Decision v1 = Run(SignedJob([](Json& cl) { cl["scope"].erase("projection"); }));
  EXPECT_REASON(v1, Reason::kMalformedArtifact);
  EXPECT_EQ(v1.message,
            "the artifact's scope has no \"projection\": it was made for execution-scope projection 1, which is no "
            "longer accepted; sign it again (ExecutionPolicy default)");
  for (Json other : {Json(1), Json(3), Json(2.0), Json("2"), Json(true), Json(nullptr), Json(-2)}) {
    SCOPED_TRACE(other.dump());
    Decision d = Run(SignedAsWritten([&](Json& cl) { cl["scope"]["projection"] = other; }));
    EXPECT_REASON(d, Reason::kMalformedArtifact);
    EXPECT_EQ(d.message, "scope.projection " + other.dump() +
                             " is not supported (this execgov verifies projection 2) (ExecutionPolicy default)");
  }
  Decision ok = Run(SignedJob());
  EXPECT_TRUE(ok.allowed) << ok.StatusMessage();
}

// The kind is the request's: an object that claims another is refused, and
// the digest is made as the request's kind.
TEST_F(DecisionTest, TheObjectMustBeWhatTheRequestIsFor) {
  Json job = SignedJob();
  AdmissionAttributes a = Attrs(job);
  ASSERT_TRUE(Decide(a, Inputs()).allowed);
  struct Case {
    const char* api_version;
    const char* kind;
  };
  for (const Case& c : {Case{"v1", "Pod"}, Case{"v1", "Job"}, Case{"batch/v2", "Job"}, Case{"batch/v1", "job"},
                        Case{"execgov.io/v1alpha1", "ExecutionRequest"}, Case{"", ""}}) {
    SCOPED_TRACE(std::string(c.api_version) + " " + c.kind);
    Json claimed = job;
    claimed["apiVersion"] = c.api_version;
    claimed["kind"] = c.kind;
    AdmissionAttributes b = Attrs(claimed);
    b.kind = "Job";
    Decision d = Decide(b, Inputs());
    EXPECT_REASON(d, Reason::kScopeMismatch);
    EXPECT_EQ(d.message, std::string("the request is for a Job (batch/v1) but its object is apiVersion \"") +
                             c.api_version + "\" kind \"" + c.kind +
                             "\"; the object must be what the request is for");
  }
  // A Pod's review whose object is the signed Job: never digested as a Job.
  AdmissionAttributes as_pod = Attrs(job);
  as_pod.kind = "Pod";
  EXPECT_REASON(Decide(as_pod, Inputs()), Reason::kScopeMismatch);
  // On UPDATE the old object is held to the same.
  Json old_claims_pod = job;
  old_claims_pod["apiVersion"] = "v1";
  old_claims_pod["kind"] = "Pod";
  Json changed = job;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1";
  Decision d = Decide(Attrs(changed, Operation::kUpdate, &old_claims_pod), Inputs());
  EXPECT_REASON(d, Reason::kScopeMismatch);
  EXPECT_NE(d.message.find("its old object is apiVersion \"v1\" kind \"Pod\""), std::string::npos) << d.message;
  // Not a governed kind at all.
  AdmissionAttributes other = Attrs(job);
  other.kind = "apps/v1/deployments";
  EXPECT_REASON(Decide(other, Inputs()), Reason::kNoMatchingPolicy);
}

// Two objects without metadata.uid would share one jti: a CREATE without a
// uid is never allowed, whatever a policy's mode.
TEST_F(DecisionTest, AJtiIsConsumedOnlyByAnObjectWithAUid) {
  for (const char* mode : {"Enforce", "Warn", "Audit"}) {
    SCOPED_TRACE(mode);
    Load({testing::MakePolicy("default", {&auth_}, mode)});
    Json job = SignedJob();
    job["metadata"].erase("uid");
    Decision d = Run(job);
    EXPECT_REASON(d, Reason::kInternalError);
    EXPECT_EQ(d.message, "Job agents/rotate has no metadata.uid: the single use of its artifact cannot be recorded "
                         "without one");
    EXPECT_EQ(d.replay_action, ReplayAction::kNone);
    // Unsigned too: a Warn or Audit policy would have allowed it.
    Json unsigned_job = testing::MakeJob("agents", "rotate");
    unsigned_job["metadata"]["uid"] = "";
    EXPECT_REASON(Run(unsigned_job), Reason::kInternalError);
  }
  // An UPDATE that leaves the scope alone consumes nothing and needs none;
  // one that changes it does.
  Load({testing::MakePolicy("default", {&auth_})});
  Json job = SignedJob();
  job["metadata"].erase("uid");
  Json labelled = job;
  labelled["metadata"]["labels"]["done"] = "yes";
  EXPECT_TRUE(Run(labelled, Operation::kUpdate, &job).allowed);
  Json changed = job;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/tools/rotate:2";
  EXPECT_REASON(Run(changed, Operation::kUpdate, &job), Reason::kInternalError);
}

TEST_F(DecisionTest, ScopeNameIsEnforcedWhenSigned) {
  EXPECT_REASON(Run(SignedJob([](Json& cl) { cl["scope"]["name"] = "other"; })), Reason::kScopeMismatch);
  EXPECT_TRUE(Run(SignedJob([](Json& cl) { cl["scope"]["name"] = "rotate"; })).allowed);
  EXPECT_REASON(Run(SignedJob([](Json& cl) { cl["scope"]["kind"] = "Pod"; })), Reason::kScopeMismatch);
}

TEST_F(DecisionTest, RequireDigestImages) {
  EditPolicy([](Json& s) { s["images"]["requireDigest"] = true; });
  EXPECT_REASON(Run(SignedJob()), Reason::kImageNotAllowed);
  Json job = testing::MakeJob("agents", "rotate", "registry.example.com/x@sha256:" + std::string(64, 'b'));
  EXPECT_TRUE(Run(testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, auth_, kNow), auth_))).allowed);
}

TEST_F(DecisionTest, ParentMustBeInTheLedger) {
  std::string parent = "sha256:" + std::string(64, 'c');
  lineage_.records.insert(parent);
  EXPECT_TRUE(Run(SignedJob([&](Json& cl) { cl["parent"] = parent; })).allowed);
}

TEST_F(DecisionTest, SameObjectMayBeSubmittedAgain) {
  // A retried CREATE of the same object (same uid) is not a replay.
  Json job = SignedJob();
  Consume(Run(job), job);
  EXPECT_TRUE(Run(job).allowed);
}

TEST_F(DecisionTest, InheritanceFromExecutionRequestToJobToPod) {
  Json ereq = testing::MakeExecutionRequest("agents", "req");
  std::string token = testing::Sign(testing::ClaimsFor(ereq, auth_, kNow), auth_);
  ereq = testing::WithArtifact(ereq, token);
  Decision d = Run(ereq);
  ASSERT_TRUE(d.allowed) << d.StatusMessage();
  Consume(d, ereq);

  Json job = testing::WithArtifact(testing::MakeJob("agents", "req-job"), token);
  job["metadata"]["ownerReferences"] = {
      {{"apiVersion", "execgov.io/v1alpha1"}, {"kind", "ExecutionRequest"}, {"name", "req"}, {"uid", "uid-ereq-req"}, {"controller", true}}};
  user_ = "system:serviceaccount:execgov-system:execgov-operator";
  Decision dj = Run(job);
  ASSERT_TRUE(dj.allowed) << dj.StatusMessage();
  EXPECT_EQ(dj.replay_action, ReplayAction::kInherit);
  replay_.inheritors.insert({d.artifact->jti, "uid-job-req-job"});

  Json pod = testing::WithArtifact(testing::MakePod("agents", "req-job-abcde"), token);
  pod["metadata"]["ownerReferences"] = {
      {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "req-job"}, {"uid", "uid-job-req-job"}, {"controller", true}}};
  user_ = "system:serviceaccount:kube-system:job-controller";
  Decision dp = Run(pod);
  EXPECT_TRUE(dp.allowed) << dp.StatusMessage();
  // A Pod passes the artifact on to nothing, so it is not recorded as an inheritor.
  EXPECT_EQ(dp.replay_action, ReplayAction::kNone);

  // The same Pod from an untrusted user is refused.
  user_ = "agent:test";
  EXPECT_REASON(Run(pod), Reason::kScopeMismatch);
  // A Pod whose owner never consumed the artifact breaks the lineage.
  user_ = "system:serviceaccount:kube-system:job-controller";
  Json orphan = pod;
  orphan["metadata"]["ownerReferences"][0]["uid"] = "uid-stranger";
  EXPECT_REASON(Run(orphan), Reason::kLineageDiscontinuity);
  Json ownerless = pod;
  ownerless["metadata"].erase("ownerReferences");
  EXPECT_REASON(Run(ownerless), Reason::kLineageDiscontinuity);
}

TEST_F(DecisionTest, InheritedArtifactNeverConsumedIsALineageBreak) {
  Json ereq = testing::MakeExecutionRequest("agents", "req");
  std::string token = testing::Sign(testing::ClaimsFor(ereq, auth_, kNow), auth_);
  Json job = testing::WithArtifact(testing::MakeJob("agents", "req-job"), token);
  job["metadata"]["ownerReferences"] = {{{"kind", "ExecutionRequest"}, {"name", "req"}, {"uid", "u"}, {"controller", true}}};
  user_ = "system:serviceaccount:execgov-system:execgov-operator";
  EXPECT_REASON(Run(job), Reason::kLineageDiscontinuity);
}

TEST_F(DecisionTest, UpdateThatKeepsTheDigestIsAllowedAfterExpiry) {
  Json job = SignedJob();
  Json labelled = job;
  labelled["metadata"]["labels"]["done"] = "yes";
  // Long after expiry: the artifact is not re-checked for an unchanged scope.
  DecisionInputs in = Inputs();
  in.now = kNow + 86400;
  Decision d = Decide(Attrs(labelled, Operation::kUpdate, &job), in);
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_EQ(d.replay_action, ReplayAction::kNone);
  // Changing the image in an UPDATE is verified, and fails.
  Json changed = job;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1";
  d = Decide(Attrs(changed, Operation::kUpdate, &job), in);
  EXPECT_REASON(d, Reason::kArtifactExpired);
}

TEST_F(DecisionTest, DeleteAndSystemNamespacesAreNeverGoverned) {
  Json job = testing::MakeJob("agents", "rotate");
  Decision d = Run(job, Operation::kDelete);
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(d.governed);
  for (const char* ns : {"kube-system", "execgov-system"}) {
    Json sys = testing::MakeJob(ns, "x");
    set_.ready = false;  // even before policies load
    EXPECT_TRUE(Run(sys).allowed) << ns;
  }
  // The namespace execgov was installed in (--namespace) as well, and only
  // when execgov runs there.
  set_.ready = true;
  Json governance = testing::MakeJob("governance", "x");
  EXPECT_REASON(Run(governance), Reason::kMissingArtifact);
  DecisionInputs in = Inputs();
  in.install_namespace = "governance";
  set_.ready = false;
  Decision d2 = Decide(Attrs(governance, Operation::kCreate, nullptr), in);
  EXPECT_TRUE(d2.allowed);
  EXPECT_FALSE(d2.governed);
}

TEST_F(DecisionTest, WarnModeAllowsWithAWarningAndAuditSilently) {
  Load({testing::MakePolicy("default", {&auth_}, "Warn")});
  Decision d = Run(testing::MakeJob("agents", "rotate"));
  EXPECT_TRUE(d.allowed);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0].rfind("execgov: MissingArtifact: ", 0), 0u);
  EXPECT_EQ(d.reason, Reason::kMissingArtifact);  // recorded even though allowed
  EXPECT_EQ(d.replay_action, ReplayAction::kNone);

  Load({testing::MakePolicy("default", {&auth_}, "Audit")});
  d = Run(testing::MakeJob("agents", "rotate"));
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.warnings.empty());
  EXPECT_EQ(d.reason, Reason::kMissingArtifact);
}

TEST_F(DecisionTest, EveryEnforcePolicyMustAllow) {
  Authority other = Authority::Make(crypto::KeyAlgorithm::kEd25519, "other-authority", "other-1");
  Load({testing::MakePolicy("a-first", {&auth_}), testing::MakePolicy("b-second", {&other})});
  Decision d = Run(SignedJob());
  EXPECT_REASON(d, Reason::kUnknownKey);
  EXPECT_NE(d.message.find("b-second"), std::string::npos);
  // With the second policy in Warn mode the Job is admitted, with a warning.
  Load({testing::MakePolicy("a-first", {&auth_}), testing::MakePolicy("b-second", {&other}, "Warn")});
  d = Run(SignedJob());
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.replay_action, ReplayAction::kConsume);
}

TEST_F(DecisionTest, NamespaceSelectorAppliesWhenLabelsAreKnown) {
  EditPolicy([](Json& s) { s["match"]["namespaceSelector"] = {{"matchLabels", {{"tier", "prod"}}}}; });
  Json job = SignedJob();
  AdmissionAttributes a = Attrs(job);
  a.namespace_labels = std::map<std::string, std::string>{{"tier", "dev"}};
  EXPECT_REASON(Decide(a, Inputs()), Reason::kNoMatchingPolicy);
  a.namespace_labels = std::map<std::string, std::string>{{"tier", "prod"}};
  EXPECT_TRUE(Decide(a, Inputs()).allowed);
}

class CountingCache : public SignatureCache {
 public:
  bool Contains(const std::string& key, int64_t now) const override {
    auto it = entries.find(key);
    return it != entries.end() && now < it->second;
  }
  void Insert(const std::string& key, int64_t expires_at) override { entries[key] = expires_at; }
  std::map<std::string, int64_t> entries;
};

TEST_F(DecisionTest, SignatureCacheIsKeyedByTokenAndPolicyGeneration) {
  CountingCache cache;
  Json job = SignedJob();
  DecisionInputs in = Inputs();
  in.signature_cache = &cache;
  EXPECT_TRUE(Decide(Attrs(job), in).allowed);
  ASSERT_EQ(cache.entries.size(), 1u);
  EXPECT_NE(cache.entries.begin()->first.find(*api::ArtifactOf(job)), std::string::npos);
  // The same artifact again is served from the cache.
  Decision again = Decide(Attrs(job), in);
  ASSERT_EQ(again.signature_checks.size(), 1u);
  EXPECT_STREQ(again.signature_checks[0].result, "cached");
  // A revocation applies on the next request despite the cached signature.
  EditPolicy([](Json& s) { s["revocations"]["kids"] = {"ops-1"}; });
  EXPECT_REASON(Decide(Attrs(job), in), Reason::kRevoked);
  // A forged token never enters the cache.
  Authority forger = Authority::Make();
  Json forged = SignedJob(nullptr, &forger);
  size_t before = cache.entries.size();
  EXPECT_REASON(Decide(Attrs(forged), in), Reason::kInvalidSignature);
  EXPECT_EQ(cache.entries.size(), before);
}

}  // namespace
}  // namespace execgov::policy
