#include <gtest/gtest.h>

#include "crypto/keys.h"

namespace execgov::crypto {
namespace {

class KeyRoundTrip : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(KeyRoundTrip, SignVerifyAndPemRoundTrip) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  auto sig = key->Sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);  // Ed25519, and ES256 as r||s
  EXPECT_TRUE(key->Public().Verify("message", *sig));
  EXPECT_FALSE(key->Public().Verify("messagE", *sig));

  auto reloaded = PrivateKey::FromPem(key->ToPkcs8Pem());
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->algorithm(), GetParam());
  auto pub = PublicKey::FromPem(key->Public().ToPem());
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify("message", *reloaded->Sign("message")));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KeyRoundTrip, ::testing::Values(KeyAlgorithm::kEd25519, KeyAlgorithm::kES256),
                         [](const auto& info) { return std::string(KeyAlgorithmName(info.param)); });

TEST(KeysTest, Es256RefusesDerSignatures) {
  auto key = PrivateKey::Generate(KeyAlgorithm::kES256);
  auto sig = key->Sign("m");
  // A DER encoding of the same signature is not the JWS form.
  std::string der = "\x30\x44\x02\x20" + sig->substr(0, 32) + "\x02\x20" + sig->substr(32);
  EXPECT_FALSE(key->Public().Verify("m", der));
}

TEST(KeysTest, UnsupportedKeysAreRefusedWithTheirType) {
  const char* kP384 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEVQDh6XtRsn2hW82NsG5mc44FNlgXbIrw\n"
      "WgnhcmdXg7jCkaPLdNe+sx8fdQSkzhI05PsneaWQN//QR/61qo2fmWg5nVq5uaKf\n"
      "i8uGBfJsd3fMwf19aioBoE38l1BTHNj+\n"
      "-----END PUBLIC KEY-----\n";
  auto key = PublicKey::FromPem(kP384);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("secp384r1"), std::string::npos) << key.status().message();
  EXPECT_FALSE(PublicKey::FromPem("not a key").ok());
  EXPECT_FALSE(PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
}

// Keys that are no usable Ed25519 point are refused when loaded, raw or in
// an SPKI, with a message that says why: the identity point, a point of
// order 2 and an all-zero encoding (small order), and a non-canonical y.
TEST(KeysTest, Ed25519KeysOfSmallOrderAreRefusedWhenLoaded) {
  std::string identity(32, '\0'), order2(32, '\0'), zero(32, '\0'), non_canonical(32, '\xff');
  identity[0] = 1;                   // (0, 1)
  order2[0] = '\xec';                // y = p - 1: (0, -1)
  for (int i = 1; i < 31; ++i) order2[i] = '\xff';
  order2[31] = '\x7f';
  non_canonical[31] = '\x7f';         // y = 2^255 - 1 >= p
  const std::string spki_prefix("\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00", 12);
  for (const std::string& raw : {identity, order2, zero, non_canonical}) {
    auto key = PublicKey::FromEd25519Raw(raw);
    ASSERT_FALSE(key.ok());
    EXPECT_NE(key.status().message().find("not a usable curve point"), std::string::npos) << key.status().message();
    auto from_der = PublicKey::FromDer(spki_prefix + raw);
    EXPECT_FALSE(from_der.ok());
  }
  // A real key loads, from raw bytes and from its SPKI.
  auto real = PrivateKey::Generate(KeyAlgorithm::kEd25519);
  ASSERT_TRUE(real.ok());
  auto raw = PublicKey::FromEd25519Raw(real->Public().Ed25519Raw());
  EXPECT_TRUE(raw.ok()) << raw.status().message();
  auto pem = PublicKey::FromPem(real->Public().ToPem());
  EXPECT_TRUE(pem.ok()) << pem.status().message();
}

TEST(KeysTest, AlgorithmNames) {
  EXPECT_EQ(ParseKeyAlgorithm("Ed25519"), KeyAlgorithm::kEd25519);
  EXPECT_EQ(ParseKeyAlgorithm("es256"), KeyAlgorithm::kES256);
  EXPECT_FALSE(ParseKeyAlgorithm("RS256").has_value());
  EXPECT_STREQ(JwsAlgorithmName(KeyAlgorithm::kEd25519), "EdDSA");
}

}  // namespace
}  // namespace execgov::crypto
