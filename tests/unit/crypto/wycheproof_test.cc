// Signature verification against C2SP/wycheproof (../shared/testdata/wycheproof):
// every "valid" case verifies and every "invalid" case is refused.
#include <gtest/gtest.h>

#include "core/file.h"
#include "crypto/encoding.h"
#include "crypto/json.h"
#include "crypto/keys.h"

namespace execgov::crypto {
namespace {

Json LoadVectors(const std::string& name) {
  auto text = ReadFile(std::string(EXECGOV_TESTDATA) + "/wycheproof/" + name);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return Json::parse(*text);
}

struct Tally {
  int valid = 0, invalid = 0;
};

void RunGroup(const PublicKey& key, const Json& tests, Tally* tally) {
  for (const auto& t : tests) {
    std::string result = t["result"];
    auto msg = HexDecode(t["msg"].get<std::string>());
    auto sig = HexDecode(t["sig"].get<std::string>());
    ASSERT_TRUE(msg && sig);
    bool ok = key.Verify(*msg, *sig);
    if (result == "valid") {
      EXPECT_TRUE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      ++tally->valid;
    } else if (result == "invalid") {
      EXPECT_FALSE(ok) << "tcId " << t["tcId"] << " " << t["comment"];
      ++tally->invalid;
    }
  }
}

TEST(WycheproofTest, Ed25519) {
  Json v = LoadVectors("ed25519_test.json");
  Tally tally;
  for (const auto& group : v["testGroups"]) {
    auto raw = HexDecode(group["publicKey"]["pk"].get<std::string>());
    ASSERT_TRUE(raw);
    auto key = PublicKey::FromEd25519Raw(*raw);
    ASSERT_TRUE(key.ok());
    RunGroup(*key, group["tests"], &tally);
  }
  EXPECT_GT(tally.valid, 0);
  EXPECT_GT(tally.invalid, 0);
  RecordProperty("valid", tally.valid);
  RecordProperty("invalid", tally.invalid);
}

TEST(WycheproofTest, EcdsaP256Sha256P1363) {
  Json v = LoadVectors("ecdsa_secp256r1_sha256_p1363_test.json");
  Tally tally;
  for (const auto& group : v["testGroups"]) {
    auto der = HexDecode(group["publicKeyDer"].get<std::string>());
    ASSERT_TRUE(der);
    auto key = PublicKey::FromDer(*der);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    ASSERT_EQ(key->algorithm(), KeyAlgorithm::kES256);
    RunGroup(*key, group["tests"], &tally);
  }
  EXPECT_GT(tally.valid, 0);
  EXPECT_GT(tally.invalid, 0);
}

}  // namespace
}  // namespace execgov::crypto
