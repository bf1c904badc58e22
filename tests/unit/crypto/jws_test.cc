// The JWS profile of docs/design.md §3.1: what is accepted, and each refusal.
#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "crypto/jws.h"

namespace execgov::crypto {
namespace {

std::string B64(const std::string& s) { return Base64UrlEncode(s); }

// Builds a token with an arbitrary header and payload text, signed by `key`.
std::string Craft(const std::string& header, const std::string& payload, const PrivateKey& key) {
  std::string input = B64(header) + "." + B64(payload);
  return input + "." + B64(*key.Sign(input));
}

class JwsTest : public ::testing::Test {
 protected:
  PrivateKey ed_ = *PrivateKey::Generate(KeyAlgorithm::kEd25519);
  PrivateKey ec_ = *PrivateKey::Generate(KeyAlgorithm::kES256);
  Json claims_ = {{"iss", "a"}, {"sub", "b"}};

  JwsParseResult Parse(const std::string& token) {
    ParsedJws jws;
    return ParseJws(token, &jws);
  }
};

TEST_F(JwsTest, SignedTokensVerifyForBothAlgorithms) {
  for (const PrivateKey* key : {&ed_, &ec_}) {
    auto token = SignJws(claims_, "k1", *key);
    ASSERT_TRUE(token.ok());
    ParsedJws jws;
    auto r = ParseJws(*token, &jws);
    ASSERT_EQ(r.failure, JwsFailure::kNone) << r.message;
    EXPECT_EQ(jws.kid, "k1");
    EXPECT_EQ(jws.claims, claims_);
    EXPECT_TRUE(VerifyJwsSignature(jws, key->Public()));
  }
}

TEST_F(JwsTest, Rfc9864NameEd25519IsAccepted) {
  auto token = Craft(R"({"alg":"Ed25519","kid":"k","typ":"execgov-authz+jws"})", claims_.dump(), ed_);
  ParsedJws jws;
  ASSERT_EQ(ParseJws(token, &jws).failure, JwsFailure::kNone);
  EXPECT_TRUE(VerifyJwsSignature(jws, ed_.Public()));
}

TEST_F(JwsTest, SignatureFromAnotherKeyOrAlgorithmFails) {
  auto token = *SignJws(claims_, "k1", ed_);
  ParsedJws jws;
  ASSERT_EQ(ParseJws(token, &jws).failure, JwsFailure::kNone);
  EXPECT_FALSE(VerifyJwsSignature(jws, PrivateKey::Generate(KeyAlgorithm::kEd25519)->Public()));
  EXPECT_FALSE(VerifyJwsSignature(jws, ec_.Public()));  // key pinned to another algorithm
}

TEST_F(JwsTest, HeaderRefusals) {
  const std::string payload = claims_.dump();
  struct Case {
    const char* header;
    JwsFailure want;
  } cases[] = {
      {R"({"alg":"none","kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kUnsupportedAlgorithm},
      {R"({"alg":"HS256","kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kUnsupportedAlgorithm},
      {R"({"alg":"RS256","kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kUnsupportedAlgorithm},
      {R"({"alg":"ES384","kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kUnsupportedAlgorithm},
      {R"({"kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","typ":"execgov-authz+jws"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"","typ":"execgov-authz+jws"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"JWT"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws","crit":["exp"]})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws","jwk":{}})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws","jku":"https://x"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws","x5u":"https://x"})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws","x5c":["AA"]})", JwsFailure::kMalformed},
      {R"({"alg":"EdDSA","alg":"none","kid":"k","typ":"execgov-authz+jws"})", JwsFailure::kMalformed},
      {R"(["alg","EdDSA"])", JwsFailure::kMalformed},
      {R"(not json)", JwsFailure::kMalformed},
  };
  for (const auto& c : cases) {
    auto r = Parse(Craft(c.header, payload, ed_));
    EXPECT_EQ(r.failure, c.want) << c.header << " -> " << r.message;
    EXPECT_FALSE(r.message.empty());
  }
}

TEST_F(JwsTest, StructureRefusals) {
  auto token = *SignJws(claims_, "k", ed_);
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  std::string header = token.substr(0, d1);
  std::string payload = token.substr(d1 + 1, d2 - d1 - 1);
  std::string sig = token.substr(d2 + 1);
  for (const std::string& bad : {std::string(""), header, header + "." + payload, token + ".x", "." + payload + "." + sig,
                                 header + ".." + sig, header + "." + payload + ".", header + "=." + payload + "." + sig,
                                 header + "." + payload + "." + sig + "=", header + "." + payload + ".a+b/",
                                 header + ". " + payload + "." + sig}) {
    EXPECT_EQ(Parse(bad).failure, JwsFailure::kMalformed) << bad;
  }
  const std::string h = R"({"alg":"EdDSA","kid":"k","typ":"execgov-authz+jws"})";
  EXPECT_EQ(Parse(Craft(h, R"({"iss":"a","iss":"b"})", ed_)).failure, JwsFailure::kMalformed);
  EXPECT_EQ(Parse(Craft(h, R"("just a string")", ed_)).failure, JwsFailure::kMalformed);
}

}  // namespace
}  // namespace execgov::crypto
