// execgov keygen: a new signing key pair. The private key goes to PREFIX.key
// (PKCS#8 PEM, created 0600, never overwritten); the public key to PREFIX.pub
// (SPKI PEM). The private key is never printed.
#include <sys/stat.h>

#include <iostream>

#include "cmd/cli.h"
#include "core/file.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"

namespace execgov::cmd {
namespace {

struct KeygenOptions {
  std::string alg = "ed25519";
  std::string kid;
  std::string out;
  std::string pkcs11;
};

// `- kid: ...` with the algorithm and the PEM: a ready-to-paste policy entry.
void PrintPolicyEntry(const std::string& kid, crypto::KeyAlgorithm alg, const std::string& pub) {
  std::cout << "- kid: " << kid << "\n  algorithm: " << crypto::KeyAlgorithmName(alg) << "\n  publicKey: |\n";
  size_t start = 0;
  while (start < pub.size()) {
    size_t end = pub.find('\n', start);
    if (end == std::string::npos) end = pub.size();
    std::cout << "    " << pub.substr(start, end - start) << "\n";
    start = end + 1;
  }
}

int RunKeygen(const KeygenOptions& o) {
  // A key generated on a token stays there: print its entry, write nothing.
  if (!o.pkcs11.empty()) {
    if (!o.out.empty()) return UsageError("--pkcs11 writes no file: leave out --out");
    auto key = crypto::LoadPkcs11Key(o.pkcs11);
    if (!key.ok()) return UsageError("--pkcs11: " + key.status().message());
    PrintPolicyEntry(o.kid, key->algorithm(), key->Public().ToPem());
    return kExitOk;
  }
  if (o.out.empty()) return UsageError("--out is required");
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
  PrintPolicyEntry(o.kid, *alg, pub);
  return kExitOk;
}

}  // namespace

void RegisterKeygen(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<KeygenOptions>();
  auto* cmd = app.add_subcommand("keygen", "Create a signing key pair: PREFIX.key (0600) and PREFIX.pub");
  cmd->add_option("--alg", o->alg, "ed25519 or es256")->capture_default_str();
  cmd->add_option("--kid", o->kid, "key id, as named in the policy")->required();
  cmd->add_option("--out", o->out, "output prefix (required unless --pkcs11)");
  cmd->add_option("--pkcs11", o->pkcs11,
                  "print the policy entry of a key already on a PKCS#11 token (a pkcs11: URI); no key is made or written");
  cmd->callback([o, exit_code] { *exit_code = RunKeygen(*o); });
}

}  // namespace execgov::cmd
