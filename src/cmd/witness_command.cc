// execgov witness: a C2SP tlog-witness for other clusters' ledgers
// (ledger/witness.h). It cosigns a log's checkpoint only if it extends the
// one it cosigned before, and keeps that state in a file across restarts.
#include <iostream>

#include "cmd/admission_service.h"  // StopSignals
#include "cmd/cli.h"
#include "core/file.h"
#include "core/log.h"
#include "ledger/witness.h"
#include "tls/credentials.h"
#include "webhook/https_server.h"

namespace execgov::cmd {
namespace {

struct WitnessFlags {
  std::string name, key, state, listen, tls_cert, tls_key;
  std::vector<std::string> log_keys;
  bool print_vkey = false;
};

int RunWitness(const WitnessFlags& f) {
  if (f.tls_cert.empty() != f.tls_key.empty()) return UsageError("--tls-cert and --tls-key go together");
  auto pem = ReadFile(f.key);
  if (!pem.ok()) return UsageError("--key: " + pem.status().message());
  auto key = crypto::PrivateKey::FromPem(*pem);
  if (!key.ok()) return UsageError("--key: " + key.status().message());
  if (f.print_vkey) {
    auto vkey = ledger::FormatNoteVerifierKey(f.name, ledger::kNoteAlgCosignatureV1, key->Public());
    if (!vkey.ok()) return UsageError(vkey.status().message());
    std::cout << *vkey << "\n";
    return kExitOk;
  }
  if (f.state.empty() || f.listen.empty()) return UsageError("--state and --listen are required");
  StopSignals signals;  // before any thread starts
  std::vector<ledger::NoteVerifierKeyParts> logs;
  for (const auto& v : f.log_keys) {
    auto parsed = ledger::ParseNoteVerifierKey(v);
    if (!parsed.ok()) return UsageError("--log-key " + v + ": " + parsed.status().message());
    logs.push_back(*parsed);
  }
  auto witness = ledger::Witness::Open(ledger::WitnessOptions{f.name, *key, f.state, logs, nullptr});
  if (!witness.ok()) return UsageError(witness.status().message());
  std::unique_ptr<tls::CredentialStore> credentials;
  if (!f.tls_cert.empty()) {
    auto store = tls::CredentialStore::Open(tls::TlsOptions{f.tls_cert, f.tls_key, ""});
    if (!store.ok()) return UsageError(store.status().message());
    credentials = std::move(store).value();
  }
  ledger::Witness* w = witness->get();
  auto handler = [w](const webhook::HttpRequest& req) {
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    if (path == "/add-checkpoint") {
      if (req.method != "POST") return webhook::HttpResponse{405, "text/plain; charset=utf-8", "use POST\n", {{"Allow", "POST"}}};
      ledger::WitnessResponse r = w->AddCheckpoint(req.body);
      return webhook::HttpResponse{r.status, r.content_type, std::move(r.body), {}};
    }
    if (path == "/" && req.method == "GET") return webhook::HttpResponse{200, "text/plain; charset=utf-8", w->VerifierKey() + "\n", {}};
    return webhook::HttpResponse{404, "text/plain; charset=utf-8", "no such path: POST /add-checkpoint\n", {}};
  };
  auto server = webhook::HttpServer::Start(f.listen, credentials.get(), handler, 2, ledger::kMaxWitnessRequestBytes);
  if (!server.ok()) return UsageError(server.status().message());
  std::cout << "witness " << f.name << " vkey " << w->VerifierKey() << " at " << (credentials ? "https" : "http")
            << "://127.0.0.1:" << (*server)->port() << "/" << std::endl;
  log::Info("witness: serving", {{"name", f.name}, {"logs", logs.size()}, {"port", (*server)->port()}});
  signals.Wait();
  server->reset();
  return kExitOk;
}

}  // namespace

void RegisterWitness(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<WitnessFlags>();
  auto* cmd = app.add_subcommand("witness", "Cosign other ledgers' checkpoints (C2SP tlog-witness) if consistent");
  cmd->add_option("--name", f->name, "the witness's name in its cosignatures (e.g. witness.cluster-b.example)")->required();
  cmd->add_option("--key", f->key, "its Ed25519 private key (PKCS#8 PEM, execgov keygen --alg ed25519)")->required();
  cmd->add_option("--state", f->state, "where the latest cosigned checkpoint of each log is kept");
  cmd->add_option("--log-key", f->log_keys, "a witnessed log's note verifier key (execgov ledger vkey); repeat");
  cmd->add_option("--listen", f->listen, "HOST:PORT (port 0: any free port, printed)");
  cmd->add_option("--tls-cert", f->tls_cert, "serve HTTPS with this certificate (PEM)");
  cmd->add_option("--tls-key", f->tls_key, "its private key (PEM)");
  cmd->add_flag("--print-vkey", f->print_vkey, "print the witness's cosignature verifier key and exit");
  cmd->callback([f, exit_code] { *exit_code = RunWitness(*f); });
}

}  // namespace execgov::cmd
