// Ledger throughput: appends/s per backend with concurrent writers (group
// commit batches them), and verify speed over a million-record file.
//
//   ledger_bench append URL KEY THREADS SECONDS
//   ledger_bench verify DIR RECORDS
//   ledger_bench entry RECORDS   (an admission's entry: nlohmann + CanonicalEntry, against EntryBuilder)
//
// Each prints one line of figures; ledger_bench.sh prints them beside
// `openssl speed sha256`, the limit verify is bound by.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/file.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/chain_state.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "ledger/verifier.h"

namespace {

using namespace execgov;
using Clock = std::chrono::steady_clock;

nlohmann::json Entry(long i) {
  return {{"type", "admission"},
          {"decision", "allowed"},
          {"reason", "Allowed"},
          {"object", {{"kind", "Pod"}, {"namespace", "agents"}, {"name", "pod-" + std::to_string(i)},
                      {"uid", "6f1c2a9e-0000-4000-8000-" + std::to_string(100000000000 + i)}, {"operation", "CREATE"}}},
          {"user", "system:serviceaccount:kube-system:job-controller"},
          {"artifact", {{"iss", "ops-authority"}, {"sub", "agent:deployer"}, {"kid", "ops-2026-11"},
                        {"jti", "b7f3c1d2e4a5968778695a4b3c2d1e0f-" + std::to_string(i)},
                        {"digest", "sha256:dd10cff05d3f711e43098d458848787800cd28b3f4110852a021461190a580a9"}}},
          {"policy", {{"name", "default"}, {"generation", 3}}}};
}

int Append(const std::string& url, const std::string& key, int threads, int seconds) {
  ledger::LedgerOptions o;
  o.signing_key_path = key;
  auto l = ledger::OpenLedger(url, o);
  if (!l.ok()) {
    std::fprintf(stderr, "open: %s\n", l.status().ToString().c_str());
    return 1;
  }
  std::atomic<long> appended{0};
  std::atomic<bool> stop{false}, failed{false};
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (long i = 0; !stop; ++i) {
        auto a = (*l)->Append(Entry(t * 100000000L + i));
        if (!a.ok()) {
          std::fprintf(stderr, "append: %s\n", a.status().ToString().c_str());
          failed = true;
          return;
        }
        ++appended;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));  // the measurement window
  stop = true;
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (!(*l)->Close().ok() || failed) return 1;
  std::printf("append %-40s %3d writers  %8ld records in %.2f s  = %9.0f appends/s (durable)\n", url.c_str(), threads,
              appended.load(), secs, appended / secs);
  return 0;
}

// Writes RECORDS records as the ledger would (a checkpoint every 1000) but
// without fsync per record, then times VerifyLedger over the file.
int Verify(const std::string& dir, long records) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  std::string path = dir + "/verify-bench.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    ledger::ChainState s;
    auto t = std::chrono::system_clock::now();
    for (long i = 0; i < records; ++i) {
      std::string bytes;
      if (s.size > 0 && s.size % 1001 == 1000) {
        auto note = ledger::SignCheckpoint({"execgov.local/bench", s.size, s.tree.Root()}, *key);
        bytes = *ledger::BuildCheckpointRecord(*note, s.size, s.last, t);
      } else {
        bytes = *ledger::BuildRecord(Entry(i), s.size, s.last, t);
      }
      if (!s.Apply(bytes).ok()) return 1;
      out << bytes << '\n';
    }
  }
  auto size = std::filesystem::file_size(path);
  auto backend = ledger::OpenBackend("file:" + path, {.read_only = true});
  if (!backend.ok()) return 1;
  ledger::VerifyOptions vo;
  vo.checkpoint_key = key->Public();
  // Once to warm the page cache (an auditor's second look), then timed.
  (void)ledger::VerifyLedger(**backend, vo);
  auto start = Clock::now();
  auto r = ledger::VerifyLedger(**backend, vo);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::filesystem::remove(path);
  if (!r.ok() || !r->ok()) {
    std::fprintf(stderr, "verify failed\n");
    return 1;
  }
  std::printf("verify file: %ld records (%.0f MB, %lu checkpoints) in %.3f s = %.0f records/s, %.0f MB/s\n", records,
              size / 1e6, static_cast<unsigned long>(r->checkpoints), secs, records / secs, size / 1e6 / secs);
  return 0;
}

// The same admission entry as Entry(i), written by EntryBuilder.
ledger::EntryBuilder BuiltEntry(long i) {
  ledger::EntryBuilder e;
  e.Str("type", "admission")
      .Str("decision", "allowed")
      .Str("reason", "Allowed")
      .Obj("object", std::move(ledger::EntryBuilder()
                                   .Str("kind", "Pod")
                                   .Str("namespace", "agents")
                                   .Str("name", "pod-" + std::to_string(i))
                                   .Str("uid", "6f1c2a9e-0000-4000-8000-" + std::to_string(100000000000 + i))
                                   .Str("operation", "CREATE")))
      .Str("user", "system:serviceaccount:kube-system:job-controller")
      .Obj("artifact", std::move(ledger::EntryBuilder()
                                     .Str("iss", "ops-authority")
                                     .Str("sub", "agent:deployer")
                                     .Str("kid", "ops-2026-11")
                                     .Str("jti", "b7f3c1d2e4a5968778695a4b3c2d1e0f-" + std::to_string(i))
                                     .Str("digest", "sha256:dd10cff05d3f711e43098d458848787800cd28b3f4110852a021461190a580a9")))
      .Obj("policy", std::move(ledger::EntryBuilder().Str("name", "default").Int("generation", 3)));
  return e;
}

int EntryRate(long records) {
  for (long i = 0; i < 1000; ++i) {  // the same bytes, or the figures mean nothing
    auto built = BuiltEntry(i).Build();
    if (!built.ok() || built->canonical() != *ledger::CanonicalEntry(Entry(i))) {
      std::fprintf(stderr, "EntryBuilder and CanonicalEntry differ for entry %ld\n", i);
      return 1;
    }
  }
  size_t sink = 0;
  auto t0 = Clock::now();
  for (long i = 0; i < records; ++i) sink += ledger::CanonicalEntry(Entry(i))->size();
  auto t1 = Clock::now();
  for (long i = 0; i < records; ++i) sink += BuiltEntry(i).Build()->canonical().size();
  auto t2 = Clock::now();
  auto rate = [&](Clock::duration d) { return records / std::chrono::duration<double>(d).count(); };
  std::printf("admission entry, nlohmann object + CanonicalEntry: %10.0f/s\n", rate(t1 - t0));
  std::printf("admission entry, EntryBuilder:                     %10.0f/s   (%zu bytes)\n", rate(t2 - t1), sink);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "append" && argc == 6) return Append(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]));
  if (mode == "verify" && argc == 4) return Verify(argv[2], std::stol(argv[3]));
  if (mode == "entry" && argc == 3) return EntryRate(std::stol(argv[2]));
  std::fprintf(stderr, "usage: ledger_bench append URL KEY THREADS SECONDS | verify DIR RECORDS | entry RECORDS\n");
  return 2;
}
