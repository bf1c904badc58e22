// Compiling ExecutionPolicies: valid ones load, invalid ones are refused with
// the file, the field and the reason named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/manifest.h"
#include "policy/policy.h"
#include "support/artifact_factory.h"

namespace execgov::policy {
namespace {

using Json = nlohmann::json;

class PolicyCompileTest : public ::testing::Test {
 protected:
  testing::Authority auth_ = testing::Authority::Make();
  Json policy_ = testing::MakePolicy("default", {&auth_});

  std::string ErrorOf(const Json& p) {
    auto r = CompilePolicy(p);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(PolicyCompileTest, ValidPolicyCompiles) {
  auto p = CompilePolicy(policy_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->name, "default");
  EXPECT_EQ((*p)->max_ttl_seconds, 900);
  EXPECT_EQ((*p)->clock_skew_seconds, 30);
  EXPECT_EQ((*p)->Summary(), "1 issuer, 1 key");
}

TEST_F(PolicyCompileTest, ErrorsNameTheField) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string want;
  } cases[] = {
      {[](Json& p) { p["spec"]["enforcement"] = "Block"; }, "spec.enforcement: \"Block\" is not Enforce, Warn or Audit"},
      {[](Json& p) { p["spec"].erase("audience"); }, "spec.audience: is required"},
      {[](Json& p) { p["spec"]["maxTTL"] = "forever"; }, "spec.maxTTL: \"forever\" is not a duration"},
      {[](Json& p) { p["spec"]["maxTTL"] = "30d"; }, "spec.maxTTL"},
      {[](Json& p) { p["spec"]["match"]["kinds"] = {"Deployment"}; }, "spec.match.kinds: \"Deployment\""},
      {[](Json& p) { p["spec"]["issuers"] = Json::array(); }, "spec.issuers: must list at least one issuer"},
      {[](Json& p) { p["spec"]["issuers"][0]["keys"][0]["algorithm"] = "RS256"; },
       "spec.issuers[0].keys[0].algorithm: \"RS256\" is not Ed25519 or ES256"},
      {[](Json& p) { p["spec"]["issuers"][0]["keys"][0]["algorithm"] = "ES256"; },
       "spec.issuers[0].keys[0].algorithm: is ES256 but the public key is Ed25519"},
      {[](Json& p) { p["spec"]["issuers"][0]["keys"][0]["publicKey"] = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"; },
       "spec.issuers[0].keys[0].publicKey: not a PEM public key"},
      {[](Json& p) {
         p["spec"]["issuers"][0]["keys"][0]["publicKeyRef"] = {{"kind", "Secret"}, {"namespace", "a"}, {"name", "b"}, {"key", "c"}};
       },
       "exactly one of publicKey and publicKeyRef"},
      {[](Json& p) {
         p["spec"]["issuers"][0]["keys"][0].erase("publicKey");
         p["spec"]["issuers"][0]["keys"][0]["publicKeyRef"] = {{"kind", "Secret"}, {"namespace", "a"}, {"name", "b"}, {"key", "c"}};
       },
       "publicKeyRef: needs a cluster"},
      {[](Json& p) { p["spec"]["issuers"][0]["keys"][0]["notAfter"] = "tomorrow"; }, "notAfter: \"tomorrow\" is not an RFC 3339"},
      {[](Json& p) { p["spec"]["issuers"][0]["subjects"] = {"agent:[a-z]"}; }, "is not a valid glob"},
      {[](Json& p) { p["spec"]["issuers"].push_back(p["spec"]["issuers"][0]); }, "is listed twice"},
      {[](Json& p) { p["spec"]["colour"] = "blue"; }, "spec.colour: unknown field"},
      {[](Json& p) { p["spec"]["bindRequester"] = "yes"; }, "spec.bindRequester: must be true or false"},
      {[](Json& p) { p["spec"]["match"]["namespaceSelector"] = {{"matchExpressions", {{{"key", "a"}, {"operator", "Near"}}}}}; },
       "\"Near\" is not In, NotIn, Exists or DoesNotExist"},
      {[](Json& p) { p["apiVersion"] = "v1"; }, "apiVersion: must be execgov.io/v1alpha1"},
  };
  for (auto& c : cases) {
    Json p = policy_;
    c.edit(p);
    std::string err = ErrorOf(p);
    EXPECT_NE(err.find(c.want), std::string::npos) << "got: " << err << "\nwant: " << c.want;
    EXPECT_EQ(err.rfind("ExecutionPolicy default: ", 0), 0u) << err;
  }
}

// The API server's rule for metadata.name (a DNS-1123 subdomain) holds for a
// policy file too, so one that loads standalone also applies with kubectl.
TEST_F(PolicyCompileTest, NameMustBeADns1123Subdomain) {
  const std::vector<std::string> good_names = {"a", "0", "default", "ops.payments-1", "a-b.c-d.e", std::string(253, 'x')};
  for (const std::string& good : good_names) {
    Json p = policy_;
    p["metadata"]["name"] = good;
    auto r = CompilePolicy(p);
    EXPECT_TRUE(r.ok()) << good << ": " << r.status().ToString();
  }
  const std::vector<std::string> bad_names = {"Default", "bad_name", "-a",  "a-",  "a..b", ".a", "a.", "a.-b", "a b",
                                              "caf\xc3\xa9", "a\nb",    "\xff", std::string(254, 'x')};
  for (const std::string& bad : bad_names) {
    Json p = policy_;
    p["metadata"]["name"] = bad;
    std::string err = ErrorOf(p);
    EXPECT_EQ(err.rfind("ExecutionPolicy: metadata.name: \"", 0), 0u) << err;
    EXPECT_NE(err.find("is not a valid name"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << "the name is quoted, not copied: " << err;
  }
}

TEST_F(PolicyCompileTest, DuplicateKidAcrossIssuersIsRefused) {
  testing::Authority other = testing::Authority::Make(crypto::KeyAlgorithm::kEd25519, "second", "ops-1");
  EXPECT_NE(ErrorOf(testing::MakePolicy("default", {&auth_, &other})).find("is used by another key"), std::string::npos);
}

TEST_F(PolicyCompileTest, PublicKeyRefGoesThroughTheResolver) {
  Json p = policy_;
  Json& key = p["spec"]["issuers"][0]["keys"][0];
  std::string pem = key["publicKey"];
  key.erase("publicKey");
  key["publicKeyRef"] = {{"kind", "Secret"}, {"namespace", "execgov-system"}, {"name", "keys"}, {"key", "ops.pub"}};
  Json seen;
  auto r = CompilePolicy(p, [&](const Json& ref) -> StatusOr<std::string> {
    seen = ref;
    return pem;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(seen["name"], "keys");
  auto failing = CompilePolicy(p, [](const Json&) -> StatusOr<std::string> { return NotFound("secret keys not found"); });
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.status().message().find("secret keys not found"), std::string::npos);
}

class PolicyFilesTest : public PolicyCompileTest {
 protected:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("execgov-policy-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                                "-" + std::to_string(getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
};

TEST_F(PolicyFilesTest, DirectoryLoadsEveryFileAndNamesTheBadOne) {
  Write("a.yaml", api::EmitYaml({policy_}));
  Json second = testing::MakePolicy("second", {&auth_}, "Audit");
  Write("b.json", second.dump());
  Write("notes.txt", "ignored");
  auto set = LoadPolicyPath(dir_.string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->ready);
  ASSERT_EQ(set->policies.size(), 2u);
  EXPECT_EQ(set->policies[1]->enforcement, Enforcement::kAudit);

  Write("c.yaml", "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: broken}\nspec: {audience: x}\n");
  auto bad = LoadPolicyPath(dir_.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("c.yaml: ExecutionPolicy broken: spec.issuers"), std::string::npos)
      << bad.status().message();

  Write("c.yaml", "kind: [unclosed\n");
  bad = LoadPolicyPath(dir_.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("c.yaml: invalid YAML at line"), std::string::npos) << bad.status().message();
}

TEST_F(PolicyFilesTest, MissingPathIsAClearError) {
  auto r = LoadPolicyPath((dir_ / "absent.yaml").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absent.yaml"), std::string::npos);
}

}  // namespace
}  // namespace execgov::policy
