// Where consumed artifacts are remembered (docs/design.md §4.3, single use and inheritance).
// Decide() reads it through policy::ReplayView; the handler then commits the
// decision's intent with Consume/Inherit, which are atomic: of two requests
// racing with one jti, exactly one Consume succeeds.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/status.h"
#include "policy/decision.h"

namespace execgov::webhook {

class ReplayStore : public policy::ReplayView {
 public:
  // Records that `who` consumed `jti`, valid until `expires_at` (Unix seconds).
  // AlreadyExists when another object (another uid) consumed it first.
  virtual Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) = 0;
  // Records that the object with `uid` inherited `jti` through its owner.
  virtual Status Inherit(const std::string& jti, const std::string& uid) = 0;
  // Forgets consumptions that expired before `now` (Unix seconds). Safe
  // because an expired artifact is refused before replay is ever checked;
  // keeps a long-running server's memory bounded by the artifacts still valid.
  virtual void Prune(int64_t now) = 0;
  // Prune in bounded steps, for a caller on a thread that answers requests:
  // each call forgets what expired before `now` in one part of the store,
  // the next part each time, so PruneParts() calls visit every consumption.
  // The default is one part: the whole store.
  virtual void PruneStep(int64_t now) { Prune(now); }
  virtual int PruneParts() const { return 1; }

  // Whether the ledger record of the decision is what makes a consumption or
  // inheritance durable (one durable write per admission instead of two).
  // Then Consume and Inherit only reserve: a reserved jti is as taken for
  // other Consume calls (they wait for it to settle) but not yet visible to
  // Find. The caller appends the decision's record carrying the consumption
  // ("replay": {"op": "consume"|"inherit", "exp": ...}) and then calls Settle
  // with whether that record is durable, exactly once per successful Consume
  // or Inherit, on every path.
  virtual bool JournaledInLedger() const { return false; }
  virtual void Settle(const std::string& jti, const std::string& uid, policy::ReplayAction action, bool durable) {
    (void)jti, (void)uid, (void)action, (void)durable;
  }
  // Judged again as the record of a journaled consumption is written
  // (ledger::Ledger::Guard): AlreadyExists when another object's consumption
  // of `jti` is recorded by then.
  virtual Status Recheck(const std::string& jti, const std::string& uid) const {
    (void)jti, (void)uid;
    return Status::Ok();
  }
};

// Standalone mode: an in-memory map journaled to an append-only file (JSON
// lines, fdatasync before returning), replayed on start so a consumed jti stays
// consumed across restarts. Entries past expiry are dropped when the journal
// is compacted at start: an expired artifact is refused before replay matters.
//
// The consumptions are split over kShards (64) shards by jti, each with its
// own lock and hash set, so a set's rehash and the expiry walk each stop a
// 64th of the store for a 64th of the time, and concurrent admissions rarely
// share a lock. With one set, the longest Consume+Settle over 400,000
// consumptions was 61-68 ms (the rehash at 351,000) and Prune held the one
// lock for 80 ms; sharded, 1.7 ms, and Prune holds a lock ~1.5 ms at a time.
//
// Group commit: callers that arrive while a sync is in progress queue their
// lines, and the next sync carries them all, so concurrent admissions share
// one fdatasync instead of taking turns. A jti being written is "in flight":
// a second Consume of it waits for the first to finish and then sees it, so
// of two racers exactly one succeeds, and nothing is visible (Find) or
// returned before its line is durable.
//
// Journaled in the ledger (OpenWithLedger, what `execgov serve` uses): the
// journal file is only read (consumptions an older version recorded there),
// and new consumptions and inheritances are carried by the decisions' own
// ledger records (JournaledInLedger), which Open reads back: every record
// with a "replay" member, in sequence order, unexpired ones kept.
class FileReplayStore : public ReplayStore {
 public:
  static StatusOr<std::unique_ptr<FileReplayStore>> Open(const std::string& path, int64_t now);
  // The ledger at `ledger_url` must exist (opened by the caller first); it is
  // read whole once here.
  static StatusOr<std::unique_ptr<FileReplayStore>> OpenWithLedger(const std::string& journal_path,
                                                                   const std::string& ledger_url, int64_t now);
  // With no journal file, for a ledger other writers share (the in-cluster
  // webhook and operator): everything it knows comes from Observe, which the
  // ledger calls for every record another writer stored
  // (ledger::LedgerOptions::observe) and, once at start, for the whole
  // ledger (Ledger::CatchUp). Recheck is the guard (Ledger::Guard) of each
  // decision's record: a consumption another writer recorded first is found
  // there even when both replicas reserved the jti at the same moment.
  static std::unique_ptr<FileReplayStore> ForSharedLedger();
  ~FileReplayStore() override;

  // Folds one ledger record's "replay" member, if any (records without one
  // cost a substring search). A consumption that expired before `now` is
  // skipped. A malformed member is logged and skipped: the ledger's verify
  // reports it, and skipping loses nothing a decision could rely on.
  void Observe(std::string_view record, int64_t now);
  // What a record built by another replica, and forwarded here to be
  // written (webhook/ledger_forward.h), consumes: read from its "replay"
  // member as Observe reads it, and reserved as Consume reserves this
  // replica's own (AlreadyExists when another object consumed the jti
  // first; the caller then Settles nothing). nullopt for a record without
  // a consumption (an inheritance is applied with Observe once durable).
  // On success the caller writes the record with Recheck as its guard and
  // then Settles (jti, uid, kConsume) with whether it is durable.
  struct Reserved {
    std::string jti, uid;
  };
  StatusOr<std::optional<Reserved>> ReserveRecorded(std::string_view entry, int64_t now);
  // AlreadyExists when another object's consumption of `jti` is recorded.
  Status Recheck(const std::string& jti, const std::string& uid) const override;
  // Find calls this once when asked whether an object inherited a jti and
  // the answer is no: another replica may have recorded the inheritance a
  // moment ago (Ledger::CatchUp brings it in). With `on_every_miss`, also
  // when the jti is not found at all (the operator, which re-verifies
  // objects the webhook recorded and writes few records of its own; the
  // webhook need not: its Guard finds a consumption recorded elsewhere).
  void SetCatchUp(std::function<Status()> catch_up, bool on_every_miss = false) {
    catch_up_ = std::move(catch_up);
    catch_up_on_every_miss_ = on_every_miss;
  }

  std::optional<policy::Consumption> Find(const std::string& jti, const std::string& inheritor_uid) const override;
  Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) override;
  Status Inherit(const std::string& jti, const std::string& uid) override;
  // In memory only; the journal is compacted on the next Open.
  void Prune(int64_t now) override;
  // One shard per call: a full walk of 150,000 consumptions took ~95 ms of
  // the answering thread, a shard's takes ~1.5 ms.
  void PruneStep(int64_t now) override;
  int PruneParts() const override { return static_cast<int>(kShards); }
  bool JournaledInLedger() const override { return in_ledger_; }
  void Settle(const std::string& jti, const std::string& uid, policy::ReplayAction action, bool durable) override;
  size_t size() const;

 private:
  // One consumption, kept small: a long-running server holds one per
  // unexpired artifact. The jti and the consumer's four names share one
  // allocation, the set finds entries by that jti (no separate key), and
  // the inheritor set is allocated only once there is one.
  class Entry {
   public:
    Entry(std::string_view jti, const policy::Consumption& who, int64_t expires_at);
    std::string_view jti() const { return Part(0); }
    policy::Consumption Who() const;
    std::string_view uid() const { return Part(4); }
    int64_t expires_at() const { return expires_at_; }
    bool Inherited(const std::string& uid) const { return inheritors_ && inheritors_->count(uid); }
    // Const: a set's elements are; the inheritors are not part of the key.
    void AddInheritor(const std::string& uid) const;
    const std::unordered_set<std::string>* inheritors() const { return inheritors_.get(); }

   private:
    std::string_view Part(size_t i) const;  // 0 jti, 1 kind, 2 namespace, 3 name, 4 uid
    // The five, one after another: any bytes may be in them (a NUL too), so
    // they are cut by position, not by a separator.
    std::unique_ptr<char[]> parts_;
    uint32_t ends_[5] = {0, 0, 0, 0, 0};  // where each part ends
    int64_t expires_at_;
    mutable std::unique_ptr<std::unordered_set<std::string>> inheritors_;  // uids that inherited the jti
  };
  // Entries are looked up by jti (C++20 heterogeneous lookup).
  struct JtiHash {
    using is_transparent = void;
    size_t operator()(std::string_view jti) const noexcept { return std::hash<std::string_view>{}(jti); }
    size_t operator()(const Entry& e) const noexcept { return (*this)(e.jti()); }
  };
  struct JtiEqual {
    using is_transparent = void;
    bool operator()(const Entry& a, const Entry& b) const noexcept { return a.jti() == b.jti(); }
    bool operator()(std::string_view jti, const Entry& e) const noexcept { return jti == e.jti(); }
    bool operator()(const Entry& e, std::string_view jti) const noexcept { return e.jti() == jti; }
  };
  using Entries = std::unordered_set<Entry, JtiHash, JtiEqual>;
  // Inserts `e` unless its jti is there already (the first consumption wins).
  static void Add(Entries* entries, Entry e);
  // AlreadyExists naming the object whose consumption of `jti` came first.
  static Status ConsumedBy(const std::string& jti, const Entry& first);
  // One part of the store: the jtis whose hash picks it.
  struct Shard {
    mutable std::mutex mu;
    Entries entries;    // durable consumptions
    // jtis whose consumption is being made durable (by the journal line, or
    // in ledger mode by the decision's record), with the consumption.
    Entries in_flight;
    std::condition_variable in_flight_cv;  // an in-flight jti was settled
    int in_flight_waiters = 0;
  };
  static constexpr size_t kShards = 64;
  Shard& ShardOf(std::string_view jti) const { return shards_[JtiHash{}(jti) % kShards]; }
  // Moves loaded consumptions into their shards.
  void Adopt(Entries entries);
  // Forgets what in `shard` expired before `now`.
  static void PruneShard(Shard& shard, int64_t now);
  // Lines appended together and made durable by one fdatasync. Its callers
  // wait on its own condition variable, so finishing a batch wakes only them,
  // not every thread queued behind it.
  struct Batch {
    std::string lines;
    Status status;
    bool done = false;
    std::condition_variable cv;
  };
  FileReplayStore(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Reads (and compacts) the journal at `path` into `entries`, and opens it
  // for appending.
  static StatusOr<std::unique_ptr<FileReplayStore>> OpenJournal(const std::string& path, int64_t now, Entries* entries);
  // Queues `line` and returns once it is durable (or could not be made so).
  // Called with no shard lock held.
  Status Journal(const std::string& line);
  Status WriteAndSync(const std::string& lines);

  // A ledger record's "replay" member.
  struct LedgerReplay {
    bool consume = false;  // or inherit
    std::string jti;
    policy::Consumption who;
    int64_t exp = 0;
  };
  // nullopt for a record without a replay member or with an expired consumption.
  static StatusOr<std::optional<LedgerReplay>> ParseLedgerReplay(std::string_view record, int64_t now);
  static void ApplyLedgerReplay(Entries* entries, const LedgerReplay& r);
  // Folds one ledger record's "replay" member, if any, into entries; a
  // consumption that expired before `now` is skipped.
  static Status LoadLedgerRecord(std::string_view record, int64_t now, Entries* entries);
  std::optional<policy::Consumption> Lookup(const std::string& jti, const std::string& inheritor_uid) const;
  std::function<Status()> catch_up_;
  bool catch_up_on_every_miss_ = false;

  std::string path_;
  int fd_;
  bool in_ledger_ = false;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<size_t> next_prune_shard_{0};  // PruneStep's next shard
  std::mutex journal_mu_;                    // the two below
  std::shared_ptr<Batch> open_;              // collecting lines for the next sync
  bool syncing_ = false;                     // a caller is writing a batch
};

}  // namespace execgov::webhook
