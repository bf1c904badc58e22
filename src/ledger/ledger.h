// The lineage ledger as the webhook and the operator use it (docs/design.md §7):
// append a decision durably, ask whether a parent record exists, and close
// with a final checkpoint. The auditor's side is verifier.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/record.h"

namespace execgov::ledger {

struct LedgerOptions {
  // Ed25519 PKCS#8 PEM that signs checkpoints. For file: ledgers an empty path
  // means PATH.key beside the ledger, and a missing file is created (mode
  // 0600, its public key beside it as .pub); other backends need an existing key.
  std::string signing_key_path;
  // The checkpoint note key name of a new ledger; empty: derived from the
  // URL. A ledger that has checkpoints keeps their origin.
  std::string origin;
  // A checkpoint is written once this many records follow the last one, or
  // once checkpoint_every has passed with records after it, and on Close().
  uint64_t checkpoint_every_records = 1000;
  std::chrono::seconds checkpoint_every = std::chrono::seconds(10);
  // Group commit linger: when records are arriving fast enough that another
  // is expected within this time, and a decision under way has announced
  // one (Ledger::Announce), the writer waits up to this long before a
  // durable write, until kLingerBatch records are queued or none is
  // announced any more, so each fsync or transaction carries more records.
  // Zero: write as soon as one is queued.
  std::chrono::microseconds linger{0};
  // Linger also when nothing is announced, whenever records were queued
  // while the last batch was being written: for a store whose write is a
  // round trip to a busy server (the API server), where most of the records
  // that could share a batch come from requests that have not reached this
  // process yet. A writer that had to wait for a record still writes it at
  // once, so one caller at a time never waits for the linger.
  bool linger_while_backlogged = false;
  const Clock* clock = nullptr;  // nullptr: the system clock
  // Called on the writer thread as it starts a linger (tests use it to act
  // while the writer waits). It must not call into the ledger.
  std::function<void()> on_linger;
  // Sees every record other writers stored, once each and in seq order:
  // before a batch is built on a tail that includes it, and in CatchUp
  // (which reads from the start, so the first CatchUp sees the whole
  // ledger). How one webhook replica learns the consumptions another one
  // recorded (webhook::FileReplayStore::Observe). Records this ledger wrote
  // itself are not passed. Runs on the writer thread or in CatchUp's
  // caller, never two at a time; it must not call into the ledger.
  std::function<void(uint64_t seq, std::string_view record)> observe;
  // How the store is opened (OpenLedger with a URL); read_only is ignored.
  BackendOptions backend;
};

struct Appended {
  uint64_t seq;
  std::string hash;  // "sha256:<hex>"
};

// Runs when an AppendAsync's record is durable, or could not be made so.
using AppendCallback = std::function<void(StatusOr<Appended>)>;

// Thread-safe. Concurrent Append calls are batched into one durable write
// (group commit); each returns only when its record is durable.
class Ledger {
 public:
  virtual ~Ledger() = default;
  // `entry` is a JSON object with the record's content fields (type,
  // decision, reason, object, user, artifact, policy...); the ledger adds seq,
  // prev and time, canonicalizes (JCS) and appends durably before returning.
  // InvalidArgument for an entry that is not an object, sets seq/prev/time,
  // or claims type "checkpoint".
  virtual StatusOr<Appended> Append(const nlohmann::json& entry) = 0;
  // Append without waiting: queues the record and returns; `done` runs once
  // it is durable (or failed), on the ledger's own writer thread, so it must
  // be quick and must not wait on this ledger. An invalid entry calls `done`
  // with the error before returning. What lets a server wait for fsync
  // without a thread per request. The default waits in Append.
  virtual void AppendAsync(const nlohmann::json& entry, AppendCallback done) { done(Append(entry)); }
  // Decides, on the writer thread, as the batch that would carry an entry
  // is built against the stored tail (after LedgerOptions::observe has seen
  // every record before it), whether the entry may still be written: a
  // non-OK status leaves it out, and is what its callback receives. What
  // makes a consumption exactly-once across writers: of two replicas that
  // each reserved one jti, the one whose batch comes second finds the first
  // one's record here. It must not call into the ledger.
  using Guard = std::function<Status()>;
  // AppendAsync of an entry already checked and in canonical form
  // (EntryBuilder), which is not canonicalized again. The default parses it
  // back for AppendAsync, judging `guard` at once.
  virtual void AppendEntryAsync(Entry entry, AppendCallback done, Guard guard = nullptr) {
    if (guard) {
      if (Status st = guard(); !st.ok()) return done(st);
    }
    auto parsed = nlohmann::json::parse(entry.canonical(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return done(Internal("a built ledger entry is not JSON"));
    AppendAsync(parsed, std::move(done));
  }
  // Passes what other writers stored since the last batch or CatchUp to
  // LedgerOptions::observe (nothing without one).
  virtual Status CatchUp() { return Status::Ok(); }
  // A decision under way that may append a record (its caller's promise to
  // call Retire once the record is queued, or once there will be none). A
  // writer lingering for more records (LedgerOptions::linger) waits only
  // while some are announced: up to the linger for the decisions being made,
  // never for records nobody is making. The default does nothing.
  virtual void Announce() {}
  virtual void Retire() {}
  // Whether a record with this hash ("sha256:<hex>") is in the ledger (the
  // lineage parent lookup); InvalidArgument for a malformed reference.
  virtual StatusOr<bool> Contains(const std::string& record_hash_ref) = 0;
  virtual StatusOr<uint64_t> Size() = 0;
  // The origin its checkpoints are signed under (an existing ledger's own,
  // else LedgerOptions::origin, else the store's); empty for a test double.
  virtual std::string Origin() const { return ""; }
  // Writes a checkpoint now if records follow the last one.
  virtual Status Checkpoint() = 0;
  // Writes a final checkpoint; later calls fail with FailedPrecondition.
  virtual Status Close() = 0;
};

// Announces a record on construction and retires it on destruction (a
// null ledger does neither).
class Announcement {
 public:
  explicit Announcement(Ledger* ledger) : ledger_(ledger) {
    if (ledger_) ledger_->Announce();
  }
  ~Announcement() {
    if (ledger_) ledger_->Retire();
  }
  Announcement(const Announcement&) = delete;
  Announcement& operator=(const Announcement&) = delete;

 private:
  Ledger* ledger_;
};

StatusOr<std::unique_ptr<Ledger>> OpenLedger(const std::string& url, const LedgerOptions& options);

// The checkpoint signing key of the ledger at `url` (OpenLedger's):
// `path`, or for a file: ledger with an empty path PATH.key, created on
// first use. Also what signs a retention cut (ledger/retention.h).
StatusOr<crypto::PrivateKey> LoadOrCreateKey(const std::string& url, std::string path);

// The origin of the ledger's last checkpoint record (nullopt before the
// first, or when it was moved to an archive): the origin an existing ledger
// keeps whatever LedgerOptions::origin says.
StatusOr<std::optional<std::string>> CheckpointOriginOf(Backend& backend, const ChainState& tail, uint64_t first);

class Backend;
// On a backend opened by the caller (another store, or a test double);
// `key` signs the checkpoints. options.signing_key_path is not used.
StatusOr<std::unique_ptr<Ledger>> OpenLedger(std::unique_ptr<Backend> backend, crypto::PrivateKey key,
                                             const LedgerOptions& options);

}  // namespace execgov::ledger
