// The auditor's `execgov ledger verify`: records one per line, as the file
// backend stores them, scanned (ledger::ScanRecord), hashed, chained and
// Merkle-folded, checkpoint notes unwrapped (CheckpointNoteOf) and opened
// (ParseCheckpoint, or OpenCheckpoint with the seeds' key); and the whole
// input as a trusted checkpoint note. Tampering must be reported, never crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "ledger/checkpoint.h"
#include "ledger/record.h"
#include "ledger/verifier.h"

using namespace execgov;

namespace {

// The public half of the key make_ledger_seeds signed corpus/ledger's
// checkpoints with (it kept no private half).
constexpr const char* kSeedKey = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAw+wG7YwXw5sumcVDdHSE5F3P2XJDx1lX6E89N4SBB8A=
-----END PUBLIC KEY-----
)";

// The records of one text, numbered by line as the file backend reads them.
class LinesBackend : public ledger::Backend {
 public:
  explicit LinesBackend(std::string_view text) : lines_(ledger::SplitLines(text)) {}
  StatusOr<ledger::ChainState> Tail() override { return ledger::ChainState{}; }
  Status Append(const BuildFn&) override { return FailedPrecondition("read only"); }
  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    for (uint64_t i = from; i < to && i < lines_.size(); ++i) {
      if (Status st = fn(i, lines_[i]); !st.ok()) return st;
    }
    return Status::Ok();
  }
  StatusOr<bool> Contains(const ledger::Hash&) override { return false; }
  size_t MaxBatch() const override { return 1; }
  std::string DefaultOrigin() const override { return "fuzz"; }
  Status Close() override { return Status::Ok(); }

 private:
  std::vector<std::string_view> lines_;
};

const crypto::PublicKey& SeedKey() {
  static const crypto::PublicKey* key = [] {
    auto k = crypto::PublicKey::FromPem(kSeedKey);
    if (!k.ok()) {
      std::fprintf(stderr, "fuzz_ledger: the seed key does not parse: %s\n", k.status().ToString().c_str());
      std::abort();
    }
    return new crypto::PublicKey(*k);
  }();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool with_key : {false, true}) {
    LinesBackend backend(text);
    ledger::VerifyOptions options;
    if (with_key) options.checkpoint_key = SeedKey();
    auto result = ledger::VerifyLedger(backend, options);
    if (result.ok() && result->ok() && result->size != ledger::SplitLines(text).size()) {
      std::fprintf(stderr, "verified %llu records of %zu lines\n", static_cast<unsigned long long>(result->size),
                   ledger::SplitLines(text).size());
      std::abort();
    }
  }
  (void)ledger::ParseCheckpoint(text);
  (void)ledger::OpenCheckpoint(text, SeedKey());
  return 0;
}
