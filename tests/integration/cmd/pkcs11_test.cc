// Keys on a PKCS#11 token (crypto/pkcs11.h) against a real SoftHSM2 token
// made in a temporary directory (SOFTHSM2_CONF) with keys generated inside
// it by OpenSC's pkcs11-tool: execgov signs through the token, an independent
// copy of the public key verifies, and no key file is ever written.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "crypto/jws.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"
#include "support/subprocess.h"

namespace execgov {
namespace {

using testing::RunCommand;

// Under ASan, SoftHSM2's own leak in C_SignInit is suppressed by module name
// (hack/sanitizers/lsan.supp), which the stack shows only when malloc's
// stacks are unwound slowly: for this process and the execgov it runs.
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }
const std::string kExecgov = "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0\" " EXECGOV_BINARY;
const std::string kModule = "/usr/lib/softhsm/libsofthsm2.so";

constexpr char kJob[] = R"(apiVersion: batch/v1
kind: Job
metadata: {name: rotate-keys, namespace: agents}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: rotate
        image: registry.example.com/tools/rotate:1.2
)";

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// Every file under `dir` but the token's own store, by path.
std::set<std::string> FilesOutsideToken(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::string p = e.path().string();
    if (p.find("/tokens") == std::string::npos) out.insert(p);
  }
  return out;
}

class Pkcs11Test : public ::testing::Test {
 protected:
  // One token for the suite: a process loads and initialises a module once
  // (crypto/pkcs11.cc), and SoftHSM2 reads SOFTHSM2_CONF only then.
  static void SetUpTestSuite() {
    suite_ = new testing::TempDir();
    const testing::TempDir& d = *suite_;
    d.Write("softhsm2.conf", "directories.tokendir = " + d.File("tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\n");
    ASSERT_EQ(mkdir(d.File("tokens").c_str(), 0700), 0);
    setenv("SOFTHSM2_CONF", d.File("softhsm2.conf").c_str(), 1);
    const std::string tool = "pkcs11-tool --module " + kModule;
    for (const std::string& cmd : {
             std::string("softhsm2-util --init-token --free --label execgov --pin 1234 --so-pin 5678"),
             // Generated inside the token: sensitive, never extractable.
             tool + " --login --pin 1234 --keypairgen --key-type EC:edwards25519 --label authority --id 01 --usage-sign",
             tool + " --login --pin 1234 --keypairgen --key-type EC:prime256v1 --label es --id 02 --usage-sign",
             tool + " --login --pin 1234 --keypairgen --key-type EC:edwards25519 --label loose --id 03 --extractable"}) {
      auto r = RunCommand(cmd, d.path());
      ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.out << r.err;
    }
    d.Write("pin", "1234\n");
    chmod(d.File("pin").c_str(), 0600);
  }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }

  std::string Tool() const { return "pkcs11-tool --module " + kModule; }

  std::string Sh(const std::string& cmd) {
    auto r = RunCommand(cmd, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.out << r.err;
    return r.out;
  }

  std::string Uri(const std::string& path_attrs, const std::string& pin = "") {
    return "pkcs11:" + path_attrs + "?module-path=" + kModule + "&pin-source=file:" + (pin.empty() ? dir_.File("pin") : pin);
  }

  // The public key as pkcs11-tool lists it (CKA_EC_POINT), not as execgov reads it.
  crypto::PublicKey ListedPublicKey(const std::string& label) {
    // pkcs11-tool lists every public key object: take the one with `label`.
    std::string listing = Sh(Tool() + " --list-objects --type pubkey");
    size_t end = listing.find("label:      " + label + "\n");
    EXPECT_NE(end, std::string::npos) << listing;
    size_t at = listing.rfind("EC_POINT:", end);
    EXPECT_NE(at, std::string::npos) << listing;
    std::string hex;
    for (size_t i = listing.find_first_not_of(' ', at + 9); i < listing.size() && isxdigit(listing[i]); ++i) hex += listing[i];
    std::string point = Unhex(hex).substr(2);  // the DER OCTET STRING's content
    if (point.size() == 32) return crypto::PublicKey::FromEd25519Raw(point).value();
    const std::string p256_spki = Unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    return crypto::PublicKey::FromDer(p256_spki + point).value();
  }

  static inline testing::TempDir* suite_ = nullptr;
  const testing::TempDir& dir_ = *suite_;
};

TEST_F(Pkcs11Test, SignsOnTheTokenWithEd25519AndES256) {
  for (const auto& [attrs, label, alg] :
       {std::tuple{std::string("token=execgov;object=authority"), std::string("authority"), crypto::KeyAlgorithm::kEd25519},
        std::tuple{std::string("token=execgov;id=%02;type=private"), std::string("es"), crypto::KeyAlgorithm::kES256}}) {
    SCOPED_TRACE(attrs);
    auto key = crypto::LoadPkcs11Key(Uri(attrs));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_TRUE(key->external());
    EXPECT_EQ(key->algorithm(), alg);
    EXPECT_EQ(key->ToPkcs8Pem(), "");  // nothing to export
    crypto::PublicKey listed = ListedPublicKey(label);
    EXPECT_EQ(key->Public().ToPem(), listed.ToPem());
    auto jws = crypto::SignJws(crypto::Json{{"sub", "agent:a"}}, "k1", *key);
    ASSERT_TRUE(jws.ok()) << jws.status().ToString();
    crypto::ParsedJws parsed;
    ASSERT_EQ(crypto::ParseJws(*jws, &parsed).failure, crypto::JwsFailure::kNone);
    EXPECT_TRUE(crypto::VerifyJwsSignature(parsed, listed));
    // Another message, another signature; a changed one does not verify.
    auto sig = key->Sign("message");
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(listed.Verify("message", *sig));
    EXPECT_FALSE(listed.Verify("messagE", *sig));
  }
}

TEST_F(Pkcs11Test, RefusesWhatCouldSelectOrExposeTheWrongKey) {
  struct Case {
    std::string uri, want;
  };
  dir_.Write("open-pin", "1234\n");
  chmod(dir_.File("open-pin").c_str(), 0644);
  dir_.Write("bad-pin", "4321\n");
  chmod(dir_.File("bad-pin").c_str(), 0600);
  const std::vector<Case> cases = {
      {"pkcs11:token=execgov;object=authority?module-path=" + kModule + "&pin-value=1234", "pin-value is refused"},
      {Uri("token=execgov;object=authority;slot=3"), "unsupported attribute slot"},
      {Uri("token=execgov;object=authority;object=es"), "given twice"},
      {Uri("token=execgov"), "name the key with object= or id="},
      {Uri("token=execgov;object=authority;type=public"), "type must be private"},
      {Uri("token=execgov;object=authority%2"), "bad %-escape"},
      {"pkcs11:token=execgov;object=authority?pin-source=file:" + dir_.File("pin"), "module-path="},
      {"pkcs11:token=execgov;object=authority?module-path=" + kModule, "pin-source="},
      {Uri("token=execgov;object=authority", "relative/pin"), "absolute file path"},
      {Uri("token=execgov;object=authority", dir_.File("open-pin")), "readable by others (mode 644)"},
      {Uri("token=execgov;object=authority", dir_.File("bad-pin")), "CKR_PIN_INCORRECT"},
      {Uri("token=other;object=authority"), "0 present tokens match"},
      {Uri("token=execgov;object=nothing"), "0 private keys on the token match"},
      {"pkcs11:token=execgov;object=authority?module-path=" + dir_.File("pin") + "&pin-source=file:" + dir_.File("pin"),
       "cannot load module"},
  };
  for (const auto& c : cases) {
    auto key = crypto::LoadPkcs11Key(c.uri);
    ASSERT_FALSE(key.ok()) << c.uri;
    EXPECT_NE(key.status().message().find(c.want), std::string::npos) << c.uri << ": " << key.status().message();
    // The PIN is never part of a message (the directory's name aside).
    std::string message = key.status().message();
    for (size_t at; (at = message.find(dir_.path())) != std::string::npos;) message.erase(at, dir_.path().size());
    EXPECT_EQ(message.find("1234"), std::string::npos) << key.status().message();
  }
}

TEST_F(Pkcs11Test, RefusesAKeyThatMayLeaveTheToken) {
  auto key = crypto::LoadPkcs11Key(Uri("token=execgov;object=loose"));
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("may leave the token"), std::string::npos) << key.status().message();
}

TEST_F(Pkcs11Test, ExecgovSignsThroughTheTokenAndWritesNoKeyFile) {
  dir_.Write("job.yaml", kJob);
  const std::set<std::string> before = FilesOutsideToken(dir_.path());
  // The policy entry for the token's key, from execgov, which writes nothing.
  auto entry = RunCommand(kExecgov + " keygen --kid hsm-1 --pkcs11 '" + Uri("token=execgov;object=authority") + "'",
                          dir_.path());
  ASSERT_EQ(entry.exit_code, 0) << entry.err;
  std::string listed_pem = ListedPublicKey("authority").ToPem();
  EXPECT_NE(entry.out.find(listed_pem.substr(0, listed_pem.find("\n-----END"))
                               .substr(listed_pem.find('\n') + 1)),
            std::string::npos)
      << entry.out;
  std::string keys;
  for (size_t s = 0; s < entry.out.size();) {
    size_t e = entry.out.find('\n', s);
    keys += "    " + entry.out.substr(s, e - s) + "\n";
    s = e + 1;
  }
  dir_.Write("policy.yaml",
             "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: default}\nspec:\n"
             "  audience: cluster-a\n  maxTTL: 15m\n  issuers:\n  - name: ops-authority\n    subjects: [\"agent:*\"]\n"
             "    keys:\n" + keys);
  auto r = RunCommand(kExecgov + " sign --key '" + Uri("token=execgov;object=authority") +
                          "' --kid hsm-1 --issuer ops-authority --subject agent:rotator --audience cluster-a -f job.yaml",
                      dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // keygen --pkcs11 and sign wrote nothing; only the test wrote the policy.
  std::set<std::string> after = FilesOutsideToken(dir_.path());
  after.erase(dir_.File("policy.yaml"));
  EXPECT_EQ(after, before);
  dir_.Write("signed.yaml", r.out);
  auto ok = RunCommand(kExecgov + " check -f signed.yaml --policy policy.yaml", dir_.path());
  EXPECT_EQ(ok.out, "allowed\n") << ok.err;
  // No file here holds a private key in the clear: the only keys are the token's.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(dir_.Read(std::filesystem::relative(e.path(), dir_.path()).string()).find("PRIVATE KEY"), std::string::npos)
        << e.path();
  }
  // A wrong PIN: a usage error naming the token's answer, nothing signed.
  dir_.Write("bad-pin", "0000\n");
  chmod(dir_.File("bad-pin").c_str(), 0600);
  auto bad = RunCommand(kExecgov + " sign --key '" + Uri("token=execgov;object=authority", dir_.File("bad-pin")) +
                            "' --kid hsm-1 --issuer ops-authority --subject agent:rotator --audience cluster-a -f job.yaml",
                        dir_.path());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("CKR_PIN_INCORRECT"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace execgov
