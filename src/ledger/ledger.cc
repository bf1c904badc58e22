// ChainedLedger: group commit and checkpoints on top of any Backend.
//
// One writer thread owns all writing: callers queue their entries and wait;
// the writer takes everything queued (up to the backend's batch limit),
// builds the records against the backend's tail, adds a checkpoint when one
// is due, and stores the batch in one durable write. Under load a batch
// carries many records for the price of one fsync or one etcd transaction.
#include "ledger/ledger.h"

#include <sys/stat.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "core/file.h"
#include "core/log.h"
#include "core/thread.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/checkpoint.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

struct Pending {
  std::string entry;  // canonical (JCS) bytes
  AppendCallback done;
  Ledger::Guard guard;  // may be empty
};

class ChainedLedger final : public Ledger {
 public:
  ChainedLedger(std::unique_ptr<Backend> backend, crypto::PrivateKey key, std::string origin,
                const LedgerOptions& options, ChainState tail, uint64_t first)
      : backend_(std::move(backend)),
        key_(std::move(key)),
        origin_(std::move(origin)),
        every_records_(std::max<uint64_t>(1, options.checkpoint_every_records)),
        every_(std::chrono::duration_cast<std::chrono::milliseconds>(options.checkpoint_every)),
        linger_(options.linger),
        linger_while_backlogged_(options.linger_while_backlogged),
        on_linger_(options.on_linger),
        observe_(options.observe),
        clock_(options.clock ? options.clock : &SystemClock::Get()),
        observed_(first),
        known_tail_(std::move(tail)) {
    writer_ = std::thread([this] {
      SetThreadName("ledger-writer");
      WriterLoop();
    });
  }

  ~ChainedLedger() override { (void)Close(); }

  StatusOr<Appended> Append(const nlohmann::json& entry) override {
    auto done = std::make_shared<std::promise<StatusOr<Appended>>>();
    auto result = done->get_future();
    AppendAsync(entry, [done](StatusOr<Appended> r) { done->set_value(std::move(r)); });
    return result.get();
  }

  void AppendAsync(const nlohmann::json& entry, AppendCallback done) override {
    // Canonicalized here, in the caller's thread, so the writer only splices.
    auto canonical = CanonicalEntry(entry);
    if (!canonical.ok()) return done(canonical.status());
    Enqueue(std::move(canonical).value(), std::move(done));
  }

  void AppendEntryAsync(Entry entry, AppendCallback done, Guard guard) override {
    Enqueue(std::move(entry).canonical(), std::move(done), std::move(guard));
  }

  // Concurrent callers share reads: a caller needs a read of the tail that
  // began after it was called (one begun earlier may miss a record made
  // durable just before the call), so it takes the next round. While a
  // round runs, every caller that arrives waits for the one after it, and
  // the first of them runs it for all. A burst of Jobs and Pods on a
  // replica that does not write the ledger each asked for the tail, and on
  // the ConfigMap store each read is two GETs: serialized, they queued for
  // seconds.
  Status CatchUp() override {
    if (!observe_) return Status::Ok();
    std::unique_lock lock(catch_up_mu_);
    const uint64_t round = catch_up_started_ + 1;  // the first round to begin after this call
    catch_up_cv_.wait(lock, [&] { return catch_up_finished_ >= round || !catch_up_running_; });
    if (catch_up_finished_ >= round) return catch_up_status_;  // a later round served it too: as fresh
    catch_up_started_ = round;  // this caller runs it, for itself and whoever comes meanwhile
    catch_up_running_ = true;
    lock.unlock();
    Status st = [&]() -> Status {
      EXECGOV_ASSIGN_OR_RETURN(ChainState tail, backend_->Tail());
      std::lock_guard observing(observe_mu_);
      return ObserveLocked(tail.size);
    }();
    lock.lock();
    catch_up_finished_ = round;
    catch_up_running_ = false;
    catch_up_status_ = st;
    catch_up_cv_.notify_all();
    return st;
  }

  void Announce() override {
    std::lock_guard lock(mu_);
    ++announced_;
  }

  void Retire() override {
    bool wake;
    {
      std::lock_guard lock(mu_);
      wake = --announced_ == 0 && lingering_;
    }
    if (wake) cv_.notify_one();
  }

  StatusOr<bool> Contains(const std::string& ref) override {
    Hash h;
    if (!crypto::ParseSha256Ref(ref, &h)) return InvalidArgument("\"" + ref + "\" is not a sha256:<hex> record hash");
    return backend_->Contains(h);
  }

  std::string Origin() const override { return origin_; }

  StatusOr<uint64_t> Size() override {
    EXECGOV_ASSIGN_OR_RETURN(ChainState tail, backend_->Tail());
    return tail.size;
  }

  Status Checkpoint() override {
    std::promise<Status> done;
    auto result = done.get_future();
    {
      std::lock_guard lock(mu_);
      if (closed_) return FailedPrecondition("the ledger is closed");
      forced_.push_back(std::move(done));
    }
    cv_.notify_one();
    return result.get();
  }

  Status Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return close_status_;
      closed_ = true;
    }
    cv_.notify_one();
    writer_.join();  // drains the queue first
    std::vector<Pending> none;
    Status st = WriteBatch(none, /*force_checkpoint=*/true);
    Status closed = backend_->Close();
    if (st.ok()) st = closed;
    std::lock_guard lock(mu_);
    close_status_ = st;
    return st;
  }

 private:
  // Passes records observed_..size-1 to observe_ (records a writer other
  // than this one stored: ours advance observed_ as they are written).
  Status ObserveLocked(uint64_t size) {
    if (!observe_ || size <= observed_) return Status::Ok();
    Status st = backend_->Scan(observed_, size, [&](uint64_t seq, std::string_view record) {
      observe_(seq, record);
      observed_ = seq + 1;
      return Status::Ok();
    });
    if (st.ok() && observed_ < size) {
      st = Unavailable("the ledger store gave records up to " + std::to_string(observed_) + " of " +
                       std::to_string(size));
    }
    return st;
  }

  void Enqueue(std::string canonical, AppendCallback done, Guard guard = nullptr) {
    std::unique_lock lock(mu_);
    if (closed_) {
      lock.unlock();
      return done(FailedPrecondition("the ledger is closed"));
    }
    queue_.push_back(Pending{std::move(canonical), std::move(done), std::move(guard)});
    // The writer is busy with a batch or already woken: it takes this one
    // with the next batch, and a notify would only cost a futex call.
    bool wake = (writer_waiting_ && !wake_pending_) || (lingering_ && queue_.size() == kLingerBatch);
    if (writer_waiting_) wake_pending_ = true;
    if (wake) {
      lock.unlock();
      cv_.notify_one();
    }
  }

  void WriterLoop() {
    // The timer only wakes the writer; whether a checkpoint is due is decided
    // by the injected clock, so tests move time without sleeping.
    auto poll = std::clamp<std::chrono::milliseconds>(every_, std::chrono::milliseconds(10),
                                                      std::chrono::milliseconds(1000));
    for (;;) {
      std::vector<Pending> batch;
      std::vector<std::promise<Status>> forced;
      {
        std::unique_lock lock(mu_);
        // Records that arrived while the last batch was being written: the
        // store, not the callers, is what holds them up.
        bool backlogged = std::exchange(backlogged_, false);
        writer_waiting_ = true;
        cv_.wait_for(lock, poll, [this] { return closed_ || !queue_.empty() || !forced_.empty(); });
        writer_waiting_ = false;
        wake_pending_ = false;
        Linger(lock, backlogged);
        if (queue_.empty() && forced_.empty() && closed_) return;
        size_t n = std::min(queue_.size(), backend_->MaxBatch());
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        forced.swap(forced_);
      }
      if (batch.empty() && forced.empty() && !idle_checkpoint_due()) continue;
      Status st = WriteBatch(batch, !forced.empty());
      for (auto& f : forced) f.set_value(st);
    }
  }

  // Waits, up to linger_, for more records when the rate at which they
  // arrived since the last batch says another is likely within it and some
  // decision under way has announced one: PostgreSQL's commit_delay (with
  // commit_siblings), taken only under load. A lone record is written at
  // once, and the wait ends when the announced records are all queued.
  // With linger_while_backlogged_, a writer that found records queued as it
  // finished its last batch (`backlogged`) waits the linger out, or until
  // kLingerBatch are queued, whatever was announced.
  void Linger(std::unique_lock<std::mutex>& lock, bool backlogged) {
    auto now = std::chrono::steady_clock::now();
    double linger_secs = std::chrono::duration<double>(linger_).count();
    if (linger_secs > 0 && !closed_ && forced_.empty() && !queue_.empty() && queue_.size() < kLingerBatch &&
        last_take_ != std::chrono::steady_clock::time_point()) {
      bool for_backlog = linger_while_backlogged_ && backlogged;
      double since_last = std::chrono::duration<double>(now - last_take_).count();
      // arrival rate x linger >= 1
      if (for_backlog || (announced_ > 0 && queue_.size() * linger_secs >= since_last)) {
        lingering_ = true;
        if (on_linger_) on_linger_();
        cv_.wait_until(lock, now + linger_, [this, for_backlog] {
          return closed_ || !forced_.empty() || queue_.size() >= kLingerBatch || (!for_backlog && announced_ == 0);
        });
        lingering_ = false;
      }
    }
    if (!queue_.empty()) last_take_ = std::chrono::steady_clock::now();
  }

  // Cheap check for the idle timer: only a tail we already know about, so an
  // idle ledger does not read its store every poll.
  bool idle_checkpoint_due() {
    std::lock_guard lock(tail_mu_);
    return known_tail_.CheckpointDue(every_records_, every_, clock_->Now());
  }

  Status WriteBatch(std::vector<Pending>& batch, bool force_checkpoint) {
    // results[i] for batch[i]: where it was written, or why it was left out.
    std::vector<StatusOr<Appended>> results;
    ChainState after;
    std::unique_lock observing(observe_mu_, std::defer_lock);
    if (observe_) observing.lock();
    auto build = [&](const ChainState& tail) -> StatusOr<Batch> {
      // Every record before this batch is seen before its guards are judged.
      EXECGOV_RETURN_IF_ERROR(ObserveLocked(tail.size));
      results.clear();
      Batch out;
      out.after = tail;
      const ChainState& s = out.after;
      auto now = clock_->Now();
      for (auto& p : batch) {
        if (p.guard) {
          if (Status refused = p.guard(); !refused.ok()) {
            results.push_back(refused);
            continue;
          }
        }
        uint64_t seq = s.size;
        EXECGOV_ASSIGN_OR_RETURN(std::string bytes, SpliceRecord(p.entry, s.size, s.last, now));
        EXECGOV_RETURN_IF_ERROR(out.Add(std::move(bytes)));
        results.push_back(Appended{seq, crypto::HashToSha256Ref(out.hashes.back())});
      }
      bool due = force_checkpoint ? s.since_checkpoint > 0 : s.CheckpointDue(every_records_, every_, now);
      if (due) {
        EXECGOV_ASSIGN_OR_RETURN(std::string note, SignCheckpoint({origin_, s.size, s.tree.Root()}, key_));
        EXECGOV_ASSIGN_OR_RETURN(std::string bytes, BuildCheckpointRecord(note, s.size, s.last, now));
        EXECGOV_RETURN_IF_ERROR(out.Add(std::move(bytes)));
      }
      after = s;
      return out;
    };
    Status st = backend_->Append(build);
    if (st.ok()) {
      if (after.size > observed_) observed_ = after.size;  // ours: not passed to observe_
      std::lock_guard lock(tail_mu_);
      known_tail_ = after;
    } else {
      log::Error("ledger append failed", {{"origin", origin_}, {"records", batch.size()}, {"error", st.ToString()}});
    }
    log::Batch lines;  // the answers' log lines leave in one write
    if (observing.owns_lock()) observing.unlock();
    // What queued while this batch was written, judged before any caller is
    // answered: a caller that waits for each record before queuing the next
    // must never look like a backlog (it would then wait for the linger).
    {
      std::lock_guard lock(mu_);
      backlogged_ = !queue_.empty();
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        bool refused = i < results.size() && !results[i].ok();
        batch[i].done(st.ok() || refused ? results[i] : StatusOr<Appended>(st));
      } catch (const std::exception& e) {  // a caller's bug must not stop the writer
        log::Error("ledger append callback failed", {{"origin", origin_}, {"error", e.what()}});
      }
    }
    return st;
  }

  std::unique_ptr<Backend> backend_;
  const crypto::PrivateKey key_;
  const std::string origin_;
  const uint64_t every_records_;
  const std::chrono::milliseconds every_;
  const std::chrono::microseconds linger_;
  const bool linger_while_backlogged_;
  const std::function<void()> on_linger_;
  const std::function<void(uint64_t, std::string_view)> observe_;
  const Clock* clock_;

  // observe_ runs under it; observed_: the records it has seen or this
  // ledger wrote (0..observed_-1), or that the store no longer holds
  // (Backend::First: moved out by retention, so nobody can observe them).
  std::mutex observe_mu_;
  uint64_t observed_ = 0;

  // CatchUp's rounds: started, finished, whether one runs, the last one's status.
  std::mutex catch_up_mu_;
  std::condition_variable catch_up_cv_;
  uint64_t catch_up_started_ = 0, catch_up_finished_ = 0;
  bool catch_up_running_ = false;
  Status catch_up_status_;

  std::mutex tail_mu_;
  ChainState known_tail_;  // the tail after our last write: a hint for the idle timer

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::vector<std::promise<Status>> forced_;
  static constexpr size_t kLingerBatch = 32;
  bool lingering_ = false;  // the writer waits for more records (Linger)
  bool backlogged_ = false;  // records queued while the last batch was written (WriteBatch)
  int64_t announced_ = 0;   // decisions under way that may append (Announce)
  std::chrono::steady_clock::time_point last_take_;  // when the writer last took records (writer only)
  bool writer_waiting_ = false;  // the writer sleeps on cv_ and needs a notify
  bool wake_pending_ = false;    // a notify was sent that the writer has not yet seen
  bool closed_ = false;
  Status close_status_;
  std::thread writer_;
};

}  // namespace

StatusOr<crypto::PrivateKey> LoadOrCreateKey(const std::string& url, std::string path) {
  bool is_file = url.rfind("file:", 0) == 0;
  if (path.empty()) {
    if (!is_file) return InvalidArgument("a ledger key (--ledger-key) is required for " + url);
    path = url.substr(5) + ".key";
  }
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0 && errno == ENOENT && is_file) {
    EXECGOV_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
    Status st = WriteFileAtomic(path, key.ToPkcs8Pem(), 0600, /*exclusive=*/true);
    if (st.code() != StatusCode::kAlreadyExists) {  // another process may have won the race
      EXECGOV_RETURN_IF_ERROR(st);
      EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(path + ".pub", key.Public().ToPem(), 0644));
      log::Info("created a ledger checkpoint key", {{"path", path}, {"public", path + ".pub"}});
      return key;
    }
  }
  EXECGOV_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = crypto::PrivateKey::FromPem(pem);
  if (!key.ok()) return key.status().WithContext(path);
  if (key->algorithm() != crypto::KeyAlgorithm::kEd25519) {
    return InvalidArgument(path + ": the ledger key must be Ed25519");
  }
  return key;
}

StatusOr<std::unique_ptr<Ledger>> OpenLedger(const std::string& url, const LedgerOptions& options) {
  EXECGOV_ASSIGN_OR_RETURN(auto key, LoadOrCreateKey(url, options.signing_key_path));
  BackendOptions backend_options = options.backend;
  backend_options.read_only = false;
  EXECGOV_ASSIGN_OR_RETURN(auto backend, OpenBackend(url, backend_options));
  return OpenLedger(std::move(backend), std::move(key), options);
}

StatusOr<std::optional<std::string>> CheckpointOriginOf(Backend& backend, const ChainState& tail, uint64_t first) {
  if (tail.since_checkpoint >= tail.size) return std::optional<std::string>();  // no checkpoint yet
  uint64_t seq = tail.size - 1 - tail.since_checkpoint;
  if (seq < first) return std::optional<std::string>();  // moved to an archive: nothing to keep to here
  std::optional<std::string> origin;
  EXECGOV_RETURN_IF_ERROR(backend.Scan(seq, seq + 1, [&](uint64_t, std::string_view bytes) -> Status {
    auto hdr = ScanRecord(bytes);
    if (!hdr.ok() || hdr->type != "checkpoint") return Status::Ok();
    auto note = CheckpointNoteOf(*hdr);
    auto cp = note.ok() ? ParseCheckpoint(*note) : note.status();
    if (cp.ok()) origin = cp->origin;
    return Status::Ok();
  }));
  return origin;
}

StatusOr<std::unique_ptr<Ledger>> OpenLedger(std::unique_ptr<Backend> backend, crypto::PrivateKey key,
                                             const LedgerOptions& options) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("the ledger key must be Ed25519");
  std::string origin = options.origin.empty() ? backend->DefaultOrigin() : options.origin;
  if (!ValidOrigin(origin)) return InvalidArgument("ledger origin \"" + origin + "\" has spaces or '+'");
  // Fails early on an unreachable or corrupt store rather than at the first append.
  EXECGOV_ASSIGN_OR_RETURN(ChainState tail, backend->Tail());
  EXECGOV_ASSIGN_OR_RETURN(uint64_t first, backend->First());
  // A ledger keeps the origin its checkpoints already carry: witnesses and
  // auditors know it by that name, so a changed default or flag must not
  // rename an existing ledger (a new origin is chosen when it is created).
  auto existing = CheckpointOriginOf(*backend, tail, first);
  if (!existing.ok()) return existing.status();
  if (existing->has_value() && **existing != origin) {
    log::Warn("ledger: keeps the origin of its checkpoints, not the one configured",
              {{"origin", **existing}, {"configured", origin}});
    origin = **existing;
  }
  return std::unique_ptr<Ledger>(
      new ChainedLedger(std::move(backend), std::move(key), origin, options, std::move(tail), first));
}

}  // namespace execgov::ledger
