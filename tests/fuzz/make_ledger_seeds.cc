// Writes the seed ledgers of corpus/ledger: admission records as the handler
// writes them, chained, with signed checkpoints after records 2 and 5, and
// the checkpoint note alone. The key is made here and only its public half
// is printed (for ledger_fuzz.cc's kSeedKey); the private half is never kept.
//   make_ledger_seeds DIR
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

using namespace execgov;
using Json = nlohmann::json;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_ledger_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  if (!key.ok()) return 1;
  const auto time = std::chrono::system_clock::time_point(std::chrono::seconds(1796319458));
  std::vector<ledger::Hash> leaves;
  ledger::Hash prev = ledger::kGenesisPrev;
  std::string text, note;
  auto add = [&](const std::string& bytes) {
    text += bytes + "\n";
    prev = ledger::LeafHash(bytes);
    leaves.push_back(prev);
  };
  for (int i = 0; i < 6; ++i) {
    if (i == 3) {
      note = *ledger::SignCheckpoint({"execgov/fuzz", leaves.size(), ledger::RootOf(leaves)}, *key);
      add(*ledger::BuildCheckpointRecord(note, leaves.size(), prev, time));
      continue;
    }
    Json entry = {{"type", "admission"},
                  {"decision", i == 2 ? "denied" : "allowed"},
                  {"reason", i == 2 ? "ReplayDetected" : "None"},
                  {"object",
                   {{"kind", "Job"}, {"namespace", "agents"}, {"name", "rotate-" + std::to_string(i)},
                    {"uid", "uid-" + std::to_string(i)}, {"operation", "CREATE"}}},
                  {"user", "agent:bench"},
                  {"digest", "sha256:f8c3dac4124521e45c156b2f4e5e26e3b34eb3594c5ba04b06437db92999ba78"},
                  {"artifact",
                   {{"iss", "ops-authority"}, {"sub", "agent:bench"}, {"kid", "bench-1"}, {"jti", "jti-" + std::to_string(i)},
                    {"digest", "sha256:f8c3dac4124521e45c156b2f4e5e26e3b34eb3594c5ba04b06437db92999ba78"}}},
                  {"replay", {{"op", "consume"}, {"exp", 1796320653}}},
                  {"policy", {{"name", "captured"}, {"generation", 1}, {"enforcement", "Enforce"}}}};
    add(*ledger::BuildRecord(entry, leaves.size(), prev, time));
  }
  std::string with_final = text;
  with_final += *ledger::BuildCheckpointRecord(
                    *ledger::SignCheckpoint({"execgov/fuzz", leaves.size(), ledger::RootOf(leaves)}, *key), leaves.size(),
                    prev, time) +
                "\n";
  std::ofstream(dir + "/ledger.jsonl") << with_final;
  std::ofstream(dir + "/ledger-no-final-checkpoint.jsonl") << text;
  std::ofstream(dir + "/checkpoint.note") << note;
  std::printf("%s", key->Public().ToPem().c_str());
  return 0;
}
