// Kubeconfig files as kubectl writes them: inline data or relative files,
// tokens or token files, the current context or a named one.
#include "kube/kubeconfig.h"

#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "support/subprocess.h"

namespace execgov::kube {
namespace {

using execgov::testing::TempDir;

TEST(KubeconfigTest, CurrentContextWithInlineCertificates) {
  TempDir dir;
  dir.Write("config", R"(apiVersion: v1
kind: Config
current-context: second
clusters:
- name: c1
  cluster: {server: "https://one:6443", certificate-authority-data: )" + crypto::Base64Encode("CA ONE") + R"(}
- name: c2
  cluster: {server: "https://two:6443", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {client-certificate-data: )" + crypto::Base64Encode("CERT") + ", client-key-data: " +
                          crypto::Base64Encode("KEY") + R"(}
- name: u2
  user: {token: "tok-2"}
contexts:
- name: first
  context: {cluster: c1, user: u1, namespace: team}
- name: second
  context: {cluster: c2, user: u2}
)");
  auto current = LoadKubeconfig(dir.File("config"));
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  EXPECT_EQ(current->server, "https://two:6443");
  EXPECT_TRUE(current->insecure_skip_verify);
  EXPECT_EQ(current->token, "tok-2");
  EXPECT_TRUE(current->cert_pem.empty());

  auto first = LoadKubeconfig(dir.File("config"), "first");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->server, "https://one:6443");
  EXPECT_EQ(first->ca_pem, "CA ONE");
  EXPECT_EQ(first->cert_pem, "CERT");
  EXPECT_EQ(first->key_pem, "KEY");
  EXPECT_EQ(first->ns, "team");
  EXPECT_FALSE(first->insecure_skip_verify);

  auto missing = LoadKubeconfig(dir.File("config"), "third");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("third"), std::string::npos);
}

TEST(KubeconfigTest, FilesAreRelativeToTheKubeconfig) {
  TempDir dir;
  dir.Write("ca.crt", "CA FILE");
  dir.Write("token", "tok-from-file\n");
  dir.Write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: ca.crt}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)");
  auto c = LoadKubeconfig(dir.File("config"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ca_pem, "CA FILE");
  EXPECT_EQ(c->token, "tok-from-file");
  ASSERT_NE(c->token_file, nullptr);
  EXPECT_EQ(c->token_file->Token(), "tok-from-file");
}

// A projected service-account token is rewritten by the kubelet while the
// process runs: the client must pick the new one up, but not re-read the
// file on every request.
TEST(KubeconfigTest, TokenFileIsReadAgainAfterTheRefreshPeriod) {
  TempDir dir;
  dir.Write("token", "first\n");
  FakeClock clock(1800000000);
  TokenFile file(dir.File("token"), "first", &clock, std::chrono::seconds(60));
  dir.Write("token", "second\n");
  clock.Advance(std::chrono::seconds(59));
  EXPECT_EQ(file.Token(), "first");
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(file.Token(), "second");
  // A file that disappears or empties keeps the last good token.
  dir.Write("token", "");
  clock.Advance(std::chrono::seconds(60));
  EXPECT_EQ(file.Token(), "second");
}

// KUBECONFIG=a:b:c as kubectl reads it: the first file to set current-context
// or to name an entry wins, entries combine across files, relative file names
// follow the file that holds the entry, and a missing file is skipped.
TEST(KubeconfigTest, AKubeconfigListIsMergedAsKubectlMergesIt) {
  TempDir one, two;
  one.Write("config", R"(current-context: from-one
contexts:
- {name: from-one, context: {cluster: shared, user: admin, namespace: first}}
- {name: dup, context: {cluster: shared, user: admin, namespace: from-one}}
clusters:
- {name: shared, cluster: {server: "https://one:6443", certificate-authority: ca.crt}}
)");
  one.Write("ca.crt", "CA OF ONE");
  two.Write("config", R"(current-context: dup
contexts:
- {name: dup, context: {cluster: shared, user: admin, namespace: from-two}}
- {name: only-two, context: {cluster: other, user: admin}}
clusters:
- {name: shared, cluster: {server: "https://two:6443"}}
- {name: other, cluster: {server: "https://other:6443", certificate-authority: ca.crt}}
users:
- {name: admin, user: {tokenFile: token}}
)");
  two.Write("ca.crt", "CA OF TWO");
  two.Write("token", "tok-two\n");

  auto merged = LoadKubeconfigs({one.File("config"), two.File("config")});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->server, "https://one:6443");  // current-context and cluster "shared" from the first file
  EXPECT_EQ(merged->ca_pem, "CA OF ONE");
  EXPECT_EQ(merged->ns, "first");
  EXPECT_EQ(merged->token, "tok-two");  // the user only the second file has, its token file beside it

  auto dup = LoadKubeconfigs({one.File("config"), two.File("config")}, "dup");
  ASSERT_TRUE(dup.ok()) << dup.status().ToString();
  EXPECT_EQ(dup->ns, "from-one");

  auto other = LoadKubeconfigs({one.File("config"), two.File("config")}, "only-two");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->server, "https://other:6443");
  EXPECT_EQ(other->ca_pem, "CA OF TWO");

  auto reversed = LoadKubeconfigs({two.File("config"), one.File("config")});
  ASSERT_TRUE(reversed.ok()) << reversed.status().ToString();
  EXPECT_EQ(reversed->server, "https://two:6443");  // now context "dup" and cluster "shared" are the second file's
  EXPECT_EQ(reversed->ns, "from-two");

  // Through the environment, with a file that does not exist in the list.
  std::string saved = std::getenv("KUBECONFIG") ? std::getenv("KUBECONFIG") : "";
  bool had = std::getenv("KUBECONFIG") != nullptr;
  ::setenv("KUBECONFIG", (one.File("missing") + ":" + one.File("config") + "::" + two.File("config")).c_str(), 1);
  auto from_env = DefaultRestConfig();
  ::setenv("KUBECONFIG", one.File("missing").c_str(), 1);
  auto none = DefaultRestConfig();
  if (had) ::setenv("KUBECONFIG", saved.c_str(), 1);
  else ::unsetenv("KUBECONFIG");
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->server, "https://one:6443");
  EXPECT_EQ(from_env->token, "tok-two");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("KUBECONFIG"), std::string::npos) << none.status().ToString();

  // A context naming a cluster no file has names the files it looked in.
  two.Write("broken", "current-context: x\ncontexts: [{name: x, context: {cluster: nowhere}}]\n");
  auto broken = LoadKubeconfigs({one.File("config"), two.File("broken")}, "x");
  EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(broken.status().message().find("nowhere"), std::string::npos) << broken.status().ToString();
  EXPECT_NE(broken.status().message().find(one.File("config") + ":" + two.File("broken")), std::string::npos)
      << broken.status().ToString();
}

TEST(KubeconfigTest, RefusesWhatItCannotHonour) {
  TempDir dir;
  dir.Write("exec", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)");
  auto e = LoadKubeconfig(dir.File("exec"));
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("exec"), std::string::npos);
  dir.Write("noserver", R"(current-context: x
clusters: [{name: c, cluster: {}}]
contexts: [{name: x, context: {cluster: c}}]
)");
  EXPECT_EQ(LoadKubeconfig(dir.File("noserver")).status().code(), StatusCode::kInvalidArgument);
  dir.Write("bad", "current-context: [unclosed");
  EXPECT_EQ(LoadKubeconfig(dir.File("bad")).status().code(), StatusCode::kInvalidArgument);
  dir.Write("badca", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority-data: "!!!"}}]
contexts: [{name: x, context: {cluster: c}}]
)");
  EXPECT_EQ(LoadKubeconfig(dir.File("badca")).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace execgov::kube
