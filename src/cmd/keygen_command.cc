// execgov keygen: a new signing key pair. The private key goes to PREFIX.key
// (PKCS#8 PEM, created 0600, never overwritten); the public key to PREFIX.pub
// (SPKI PEM). The private key is never printed.
#include <sys/stat.h>

#include <iostream>

#include "cmd/cli.h"
#include "core/file.h"
#include "crypto/keys.h"

namespace execgov::cmd {
namespace {

struct KeygenOptions {
  std::string alg = "ed25519";
  std::string kid;
  std::string out;
};

int RunKeygen(const KeygenOptions& o) {
  auto alg = crypto::ParseKeyAlgorithm(o.alg);
  if (!alg) return UsageError("--alg: \"" + o.alg + "\" is not ed25519 or es256");
  auto key = crypto::PrivateKey::Generate(*alg);
  if (!key.ok()) return UsageError(key.status().message());
  std::string pub = key->Public().ToPem();
  Status st = WriteFileAtomic(o.out + ".key", key->ToPkcs8Pem(), 0600, /*exclusive=*/true);
  if (!st.ok()) return UsageError(st.message() + " (refusing to overwrite a key)");
  st = WriteFileAtomic(o.out + ".pub", pub, 0644);
  if (!st.ok()) return UsageError(st.message());
  std::cerr << "wrote " << o.out << ".key (private, mode 0600) and " << o.out << ".pub\n";
  // A ready-to-paste policy entry for the public key.
  std::cout << "- kid: " << o.kid << "\n  algorithm: " << crypto::KeyAlgorithmName(*alg) << "\n  publicKey: |\n";
  size_t start = 0;
  while (start < pub.size()) {
    size_t end = pub.find('\n', start);
    if (end == std::string::npos) end = pub.size();
    std::cout << "    " << pub.substr(start, end - start) << "\n";
    start = end + 1;
  }
  return kExitOk;
}

}  // namespace

void RegisterKeygen(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<KeygenOptions>();
  auto* cmd = app.add_subcommand("keygen", "Create a signing key pair: PREFIX.key (0600) and PREFIX.pub");
  cmd->add_option("--alg", o->alg, "ed25519 or es256")->capture_default_str();
  cmd->add_option("--kid", o->kid, "key id, as named in the policy")->required();
  cmd->add_option("--out", o->out, "output prefix")->required();
  cmd->callback([o, exit_code] { *exit_code = RunKeygen(*o); });
}

}  // namespace execgov::cmd
