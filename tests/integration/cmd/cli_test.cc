// The execgov command line, run as a user runs it: keygen, sign, digest,
// inspect and check, their exit codes, bad input, and interoperability with
// an independent JOSE implementation (jwcrypto).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "api/manifest.h"
#include "support/subprocess.h"

namespace execgov {
namespace {

using testing::RunCommand;

const std::string kExecgov = EXECGOV_BINARY;

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
        command: ["/rotate"]
        args: ["--service", "payments"]
)";

int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

class CliTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;

  testing::CommandResult Run(const std::string& args) { return RunCommand(kExecgov + " " + args, dir_.path()); }

  // Makes a key pair and a policy trusting it, for algorithm `alg`.
  void MakeAuthority(const std::string& alg = "ed25519", const std::string& kid = "ops-1") {
    auto r = Run("keygen --alg " + alg + " --kid " + kid + " --out " + kid);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string keys;
    std::string line;
    for (char c : r.out) {
      line += c;
      if (c == '\n') {
        keys += "    " + line;
        line.clear();
      }
    }
    dir_.Write("policy.yaml",
               "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: default}\nspec:\n"
               "  audience: cluster-a\n  maxTTL: 15m\n  issuers:\n  - name: ops-authority\n    subjects: [\"agent:*\"]\n"
               "    keys:\n" + keys);
    dir_.Write("job.yaml", kJob);
  }

  std::string SignFlags(const std::string& kid = "ops-1") {
    return "sign --key " + kid + ".key --kid " + kid + " --issuer ops-authority --subject agent:rotator --audience cluster-a";
  }
};

TEST_F(CliTest, KeygenWritesAPrivateKeyOnlyTheOwnerCanRead) {
  MakeAuthority();
  struct stat st;
  ASSERT_EQ(stat(dir_.File("ops-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir_.File("ops-1.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0044u & (st.st_mode & 0077));
  auto again = Run("keygen --alg ed25519 --kid ops-1 --out ops-1");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos);
  EXPECT_EQ(dir_.Read("ops-1.key").find("PRIVATE KEY") != std::string::npos, true);
  // The key is never printed.
  auto r = Run("keygen --alg es256 --kid ec-1 --out ec-1");
  EXPECT_EQ(r.out.find("PRIVATE"), std::string::npos);
  EXPECT_EQ(r.err.find("PRIVATE"), std::string::npos);
}

TEST_F(CliTest, SignThenCheckIsAllowedAndTamperingIsDenied) {
  for (const std::string alg : {"ed25519", "es256"}) {
    SCOPED_TRACE(alg);
    MakeAuthority(alg, "k-" + alg);
    auto signed_job = Run(SignFlags("k-" + alg) + " -f job.yaml");
    ASSERT_EQ(signed_job.exit_code, 0) << signed_job.err;
    dir_.Write("signed.yaml", signed_job.out);

    auto ok = Run("check -f signed.yaml --policy policy.yaml");
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(ok.out, "allowed\n");

    // Pipe form: sign - | check -
    auto piped = RunCommand("cat job.yaml | " + kExecgov + " " + SignFlags("k-" + alg) + " -f - | " + kExecgov +
                                " check -f - --policy policy.yaml",
                            dir_.path());
    EXPECT_EQ(piped.out, "allowed\n") << piped.err;

    struct Tamper {
      std::string sed, reason;
    } tampers[] = {
        {"s#rotate:1.2#rotate:6.6#", "DigestMismatch"},
        {"s#/rotate#/bin/sh#", "DigestMismatch"},
        {"s#namespace: agents#namespace: prod#", "ScopeMismatch"},
    };
    for (const auto& t : tampers) {
      auto r = RunCommand("sed '" + t.sed + "' signed.yaml | " + kExecgov + " check -f - --policy policy.yaml", dir_.path());
      EXPECT_EQ(r.exit_code, 1) << t.sed;
      EXPECT_EQ(r.out.rfind("denied: " + t.reason + ": ", 0), 0u) << t.sed << ": " << r.out;
    }
    auto unsigned_job = Run("check -f job.yaml --policy policy.yaml");
    EXPECT_EQ(unsigned_job.exit_code, 1);
    EXPECT_EQ(unsigned_job.out.rfind("denied: MissingArtifact: ", 0), 0u);
  }
}

TEST_F(CliTest, ArtifactSignedByAnUntrustedKeyIsRefused) {
  MakeAuthority();
  // Same kid, different key: what a forger without the private key can do.
  ASSERT_EQ(Run("keygen --alg ed25519 --kid ops-1 --out forged").exit_code, 0);
  auto forged = Run("sign --key forged.key --kid ops-1 --issuer ops-authority --subject agent:x --audience cluster-a -f job.yaml");
  ASSERT_EQ(forged.exit_code, 0);
  dir_.Write("forged.yaml", forged.out);
  auto r = Run("check -f forged.yaml --policy policy.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("denied: InvalidSignature: ", 0), 0u) << r.out;

  // The signature of one valid artifact swapped onto another.
  auto a = Run(SignFlags() + " --artifact-only -f job.yaml");
  auto b = Run(SignFlags() + " --artifact-only --intent other -f job.yaml");
  std::string ta = a.out.substr(0, a.out.size() - 1), tb = b.out.substr(0, b.out.size() - 1);
  std::string swapped = ta.substr(0, ta.rfind('.')) + tb.substr(tb.rfind('.'));
  auto docs = api::ParseManifests(kJob, "job");
  (*docs)[0]["metadata"]["annotations"]["execgov.io/authorization"] = swapped;
  dir_.Write("swapped.json", (*docs)[0].dump());
  r = Run("check -f swapped.json --policy policy.yaml");
  EXPECT_EQ(r.out.rfind("denied: InvalidSignature: ", 0), 0u) << r.out;
}

TEST_F(CliTest, ReplayWithinOneCheckIsDetected) {
  MakeAuthority();
  auto s = Run(SignFlags() + " -f job.yaml");
  dir_.Write("twice.yaml", s.out + "---\n" + s.out);
  auto r = Run("check -f twice.yaml --policy policy.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.substr(0, 8), "allowed\n");
  EXPECT_NE(r.out.find("denied: ReplayDetected: "), std::string::npos) << r.out;
}

TEST_F(CliTest, CheckHonoursNowAndUser) {
  MakeAuthority();
  auto s = Run(SignFlags() + " --ttl 5m --issued-at 2030-01-01T00:00:00Z -f job.yaml");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  dir_.Write("signed.yaml", s.out);
  EXPECT_EQ(Run("check -f signed.yaml --policy policy.yaml --now 2030-01-01T00:01:00Z").out, "allowed\n");
  EXPECT_EQ(Run("check -f signed.yaml --policy policy.yaml --now 2030-01-01T01:00:00Z").out.rfind("denied: ArtifactExpired", 0), 0u);
  EXPECT_EQ(Run("check -f signed.yaml --policy policy.yaml --now 2029-12-31T23:00:00Z").out.rfind("denied: ArtifactNotYetValid", 0), 0u);
}

TEST_F(CliTest, DigestAndInspect) {
  MakeAuthority();
  auto d = Run("digest -f job.yaml");
  EXPECT_EQ(d.exit_code, 0);
  ASSERT_EQ(d.out.size(), 7u + 64u + 1u);
  EXPECT_EQ(d.out.rfind("sha256:", 0), 0u);
  auto s = Run(SignFlags() + " --intent 'rotate payment keys' -f job.yaml");
  dir_.Write("signed.yaml", s.out);
  auto i = Run("inspect -f signed.yaml");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["claims"]["intent"], "rotate payment keys");
  EXPECT_EQ(j["claims"]["scope"]["digest"], d.out.substr(0, d.out.size() - 1));
  // The projection the digest was made with, which a verifier requires.
  EXPECT_EQ(j["claims"]["scope"]["projection"], 2);
  EXPECT_TRUE(j["claims"]["scope"]["projection"].is_number_integer());
  EXPECT_EQ(j["header"]["typ"], "execgov-authz+jws");
}

TEST_F(CliTest, BadInputGetsOneLineAndExitTwo) {
  MakeAuthority();
  dir_.Write("bad.yaml", "kind: [unclosed\n");
  dir_.Write("garbage.key", "not a key\n");
  const std::string cases[] = {
      "check -f missing.yaml --policy policy.yaml",
      "check -f bad.yaml --policy policy.yaml",
      "check -f job.yaml --policy missing-policy.yaml",
      "check -f job.yaml --policy bad.yaml",
      SignFlags() + " -f missing.yaml",
      "sign --key garbage.key --kid k --issuer i --subject s --audience a -f job.yaml",
      "sign --key missing.key --kid k --issuer i --subject s --audience a -f job.yaml",
      SignFlags() + " --ttl forever -f job.yaml",
      SignFlags() + " --parent nothex -f job.yaml",
      SignFlags() + " --issued-at 1960-01-01T00:00:00Z -f job.yaml",  // a NumericDate below 0
      "digest -f bad.yaml",
      "inspect not-a-jws",
      "keygen --alg rsa --kid x --out x",
      "check --no-such-flag",
      "frobnicate",
      "",
  };
  for (const auto& args : cases) {
    auto r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out << r.err;
    EXPECT_EQ(CountLines(r.err), 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("execgov: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos);
  }
}

TEST_F(CliTest, HelpExitsZero) {
  auto r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("sign"), std::string::npos);
  EXPECT_EQ(Run("sign --help").exit_code, 0);
}

// jwcrypto (pyca/cryptography underneath) is an implementation we did not write.
TEST_F(CliTest, InteroperatesWithJwcrypto) {
  const std::string py = std::string("/usr/bin/python3 ") + EXECGOV_INTEROP_SCRIPT;
  for (const std::string alg : {"ed25519", "es256"}) {
    SCOPED_TRACE(alg);
    MakeAuthority(alg, "k-" + alg);
    // execgov sign -> jwcrypto verify
    auto token = Run(SignFlags("k-" + alg) + " --artifact-only -f job.yaml");
    ASSERT_EQ(token.exit_code, 0);
    auto v = RunCommand(py + " verify k-" + alg + ".pub '" + token.out.substr(0, token.out.size() - 1) + "'", dir_.path());
    ASSERT_EQ(v.exit_code, 0) << v.err;
    EXPECT_EQ(nlohmann::json::parse(v.out)["iss"], "ops-authority");
    // A tampered token fails in jwcrypto too: the test can fail.
    std::string bad = token.out.substr(0, token.out.size() - 1);
    bad[bad.size() - 3] = bad[bad.size() - 3] == 'A' ? 'B' : 'A';
    EXPECT_NE(RunCommand(py + " verify k-" + alg + ".pub '" + bad + "'", dir_.path()).exit_code, 0);

    // jwcrypto sign -> execgov check
    auto digest = Run("digest -f job.yaml");
    std::string dig = digest.out.substr(0, digest.out.size() - 1);
    long now = static_cast<long>(time(nullptr));
    nlohmann::json claims = {{"iss", "ops-authority"}, {"sub", "agent:python"}, {"aud", "cluster-a"},
                             {"iat", now}, {"nbf", now}, {"exp", now + 300},
                             {"jti", "py-" + std::to_string(now) + "-0123456789abcdef"},
                             {"scope", {{"namespace", "agents"}, {"kind", "Job"}, {"digest", dig}, {"projection", 2}}}};
    dir_.Write("claims.json", claims.dump());
    auto signed_by_py = RunCommand(py + " sign k-" + alg + ".key k-" + alg + " claims.json", dir_.path());
    ASSERT_EQ(signed_by_py.exit_code, 0) << signed_by_py.err;
    auto docs = api::ParseManifests(kJob, "job");
    (*docs)[0]["metadata"]["annotations"]["execgov.io/authorization"] =
        signed_by_py.out.substr(0, signed_by_py.out.size() - 1);
    dir_.Write("py.json", (*docs)[0].dump());
    auto c = Run("check -f py.json --policy policy.yaml");
    EXPECT_EQ(c.out, "allowed\n") << c.out << c.err;
  }
}

}  // namespace
}  // namespace execgov
