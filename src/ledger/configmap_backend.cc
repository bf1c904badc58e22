#include "ledger/configmap_backend.h"

#include <zlib.h>

#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "api/object.h"
#include "core/log.h"
#include "core/thread.h"
#include "crypto/encoding.h"
#include "kube/kubeconfig.h"
#include "ledger/record.h"
#include "ledger/retention.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

constexpr const char* kLedgerLabel = "execgov.io/ledger";
constexpr const char* kSealed = "execgov.io/sealed";
constexpr const char* kFirstSeq = "execgov.io/first-seq";
// On a batch: its first seq, as its name has it (batches stored before
// 2026-12-05 lack it and are deleted one by one).
constexpr const char* kBatchLabel = "execgov.io/batch";
// Batches deleted in one DELETE of a collection at most: the label selector
// naming them rides in the URL (about 14 bytes a batch).
constexpr size_t kBatchesPerDelete = 100;
constexpr const char* kRecordsKey = "records";
constexpr const char* kCompressedKey = "records.gz";
constexpr const char* kBaseKey = "base.json";
constexpr auto kAppendDeadline = std::chrono::seconds(60);
// Records a writer keeps after folding them, so that reading back what it
// has just seen (the ledger's observer catching up) costs no API call.
constexpr size_t kRecentBytes = 8u << 20;
// The most a BatchCache keeps (the oldest batches go first).
constexpr size_t kBatchCacheBytes = 8u << 20;
// How long a writer that lost a race for a batch name waits for the watch to
// announce the winner's batch before it GETs it.
constexpr auto kLostRaceWait = std::chrono::milliseconds(50);
// Batches whose announcement BatchCache remembers (the newest ones).
constexpr size_t kAnnouncedKept = 4096;
// A failed merge is tried again after this long.
constexpr auto kMergeRetry = std::chrono::seconds(2);

// A name the API server takes for a namespace or as the stem of a ConfigMap
// name (which adds "-NNNNNN" or "-bNNNNNNNNNNNN"): a DNS-1123 subdomain of at
// most 56 characters.
bool ValidName(const std::string& s) { return s.size() <= 56 && api::IsDns1123Subdomain(s); }

std::string Gzip(std::string_view in) {
  z_stream z{};
  // 15 + 16: a gzip wrapper (RFC 1952) rather than zlib's, so `gzip -d` reads it.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

// Inflates at most `limit` bytes: a segment is never larger, so more is an
// attack on the reader's memory (a small object that inflates to gigabytes),
// not a ledger.
StatusOr<std::string> Gunzip(std::string_view in, size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Internal("zlib: cannot start inflating");
  std::string out(std::min<size_t>(limit + 1, std::max<size_t>(in.size() * 4, 64 * 1024)), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.total_out == out.size()) {
      if (out.size() > limit) break;
      out.resize(std::min(out.size() * 2, limit + 1));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // truncated input
  }
  size_t n = z.total_out;
  inflateEnd(&z);
  if (n > limit) return DataLoss("a ledger segment inflates to more than " + std::to_string(limit) + " bytes");
  if (rc != Z_STREAM_END || z.avail_in != 0) return DataLoss("a ledger segment's records.gz is not one gzip stream");
  out.resize(n);
  return out;
}

// A segment or a batch as read.
struct Part {
  uint64_t first = 0;  // seq of its first record
  std::string text;    // its records, newline-terminated lines
  std::vector<std::string> records;  // the same, one string each
  bool sealed = false;
  json object;  // as read: only a layout-1 tail needs it (to seal it)
  std::string uid;  // of the ConfigMap: which object of that name this is
};

// A segment or a batch of ledger `origin` from its ConfigMap `obj`, named `name`.
StatusOr<Part> ParsePart(json obj, const std::string& name, const std::string& origin, bool segment) {
  Part p;
  try {
    const json& meta = obj.at("metadata");
    p.uid = meta.value("uid", "");
    auto labels = meta.value("labels", json::object());
    if (labels.value(kLedgerLabel, "") != origin) return DataLoss(name + ": a ledger ConfigMap without its label");
    auto annotations = meta.value("annotations", json::object());
    if (segment) {
      p.sealed = annotations.value(kSealed, "") == "true";
      std::string first = annotations.value(kFirstSeq, "");
      char* end = nullptr;
      p.first = std::strtoull(first.c_str(), &end, 10);
      if (first.empty() || *end != '\0' || first.size() > 19) {
        return DataLoss(name + ": " + kFirstSeq + " is not a sequence number");
      }
    } else {
      p.sealed = true;
      p.first = std::strtoull(name.c_str() + origin.size() + 2, nullptr, 10);
    }
    auto binary = obj.value("binaryData", json::object());
    if (binary.contains(kCompressedKey)) {
      auto gz = crypto::Base64Decode(binary.at(kCompressedKey).get<std::string>());
      if (!gz) return DataLoss(name + ": records.gz is not base64");
      auto text = Gunzip(*gz, kConfigMapMaxSegmentBytes);
      if (!text.ok()) return text.status().WithContext(name);
      p.text = std::move(text).value();
    } else {
      p.text = obj.value("data", json::object()).value(kRecordsKey, "");
    }
  } catch (const json::exception& e) {
    return DataLoss(name + ": " + e.what());
  }
  if (!p.text.empty() && p.text.back() != '\n') return DataLoss(name + ": its records do not end with a newline");
  for (std::string_view line : SplitLines(p.text)) p.records.emplace_back(line);
  if (!segment && p.records.empty()) return DataLoss(name + ": a batch without records");
  p.object = std::move(obj);
  return p;
}

// Copies of the batches of one ledger that backends in this process read or
// stored, until a segment covers them (ConfigMapBackend::ReadBatch). Shared:
// the operator follows the tail with its writer's view (before each merge),
// its Ledger's observer and its index's read-only backend, and would
// otherwise GET each batch once for each of them. Once a writer opens the
// ledger, a watch adds every batch stored from then on as the API server
// announces it, so a writer that lost a race for a batch name, or follows
// another writer's tail, finds the batch here rather than GETting it.
class BatchCache {
 public:
  ~BatchCache() {
    stop_ = true;
    if (watcher_.joinable()) watcher_.join();
  }

  // The cache of ledger `key` (the API server, namespace and origin), made
  // when no backend holds it.
  static std::shared_ptr<BatchCache> For(const std::string& key) {
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<BatchCache>> caches;
    std::lock_guard lock(mu);
    for (auto it = caches.begin(); it != caches.end();) it = it->second.expired() ? caches.erase(it) : std::next(it);
    auto& weak = caches[key];
    auto cache = weak.lock();
    if (!cache) {
      cache = std::make_shared<BatchCache>();
      weak = cache;
    }
    return cache;
  }

  std::optional<Part> Get(uint64_t first) {
    std::lock_guard lock(mu_);
    auto it = parts_.find(first);
    if (it == parts_.end()) return std::nullopt;
    return it->second;
  }

  // Waits up to `max` for the batch at `first` (one known to exist) to be
  // announced by the watch; false if it was not (no watch, or a slow one).
  bool WaitFor(uint64_t first, std::chrono::milliseconds max) {
    std::unique_lock lock(mu_);
    if (!watching_) return parts_.count(first) > 0;
    return cv_.wait_for(lock, max, [&] { return parts_.count(first) > 0 || first < floor_; }) && parts_.count(first) > 0;
  }

  // The watch's epoch: 0 until it has started, then one more each time it
  // starts again from a new list (after its version expired), since events
  // between the two were never seen. A read issued while the epoch is E (not
  // 0) saw the store at or after E began.
  uint64_t Epoch() {
    std::lock_guard lock(mu_);
    return epoch_;
  }

  // Whether segment `index` existed when the batch at `first` with uid
  // `uid` was stored, as the watch tells it: waits up to `max` for the watch
  // to announce that very object (not an earlier batch of the same name)
  // within epoch `epoch`; events arrive in the order of their writes, so
  // every segment stored before the batch was announced before it.
  // nullopt: the watch cannot tell (another epoch, or not announced in time).
  std::optional<bool> SegmentBefore(uint64_t first, const std::string& uid, uint64_t index, uint64_t epoch,
                                    std::chrono::milliseconds max) {
    std::unique_lock lock(mu_);
    if (epoch == 0 || uid.empty()) return std::nullopt;
    auto announced = [&] {
      auto it = announced_.find(first);
      return it != announced_.end() && it->second == uid;
    };
    cv_.wait_for(lock, max, [&] { return epoch_ != epoch || announced(); });
    if (epoch_ != epoch || !announced()) return std::nullopt;
    return segments_.count(index) > 0;
  }

  // The batch at `first` as the watch announced it, if the copy here is
  // that very object and no segment `index` was announced before it within
  // epoch `epoch` (so, as in SegmentBefore, none existed when it was
  // stored and it is no orphan). nullopt: the watch cannot vouch for it.
  std::optional<Part> Announced(uint64_t first, uint64_t index, uint64_t epoch) {
    std::lock_guard lock(mu_);
    if (epoch == 0 || epoch_ != epoch || segments_.count(index) > 0) return std::nullopt;
    auto announced = announced_.find(first);
    auto part = parts_.find(first);
    if (announced == announced_.end() || part == parts_.end() || part->second.uid.empty() ||
        part->second.uid != announced->second) {
      return std::nullopt;
    }
    return part->second;
  }

  // Starts the watch (once): every batch of `origin` in `ns` stored after
  // this call is added as it is announced. Events before it are not sent
  // (the watch starts at a list's resourceVersion), so no segment is
  // downloaded; a watch that ends is resumed, and one whose version
  // expired starts again from now (missed batches are simply not here).
  void Follow(std::shared_ptr<kube::Client> client, const std::string& ns, const std::string& origin) {
    std::lock_guard lock(mu_);
    if (watcher_.joinable()) return;
    watcher_ = std::thread([this, client = std::move(client), ns, origin] {
      SetThreadName("ledger-watch");
      Watch(*client, ns, origin);
    });
  }

  void Put(Part batch) {
    batch.object = json();  // only a layout-1 segment needs it
    std::lock_guard lock(mu_);
    if (batch.first < floor_) return;  // a segment covers it
    size_t bytes = Cost(batch);
    if (!parts_.try_emplace(batch.first, std::move(batch)).second) return;
    bytes_ += bytes;
    while (bytes_ > kBatchCacheBytes && !parts_.empty()) Drop(parts_.begin());
    cv_.notify_all();
  }

  // Segments cover every seq before `seq`.
  void ForgetBefore(uint64_t seq) {
    std::lock_guard lock(mu_);
    floor_ = std::max(floor_, seq);
    while (!parts_.empty() && parts_.begin()->first < floor_) Drop(parts_.begin());
  }

 private:
  static size_t Cost(const Part& p) { return p.text.size() * 2; }  // the text and its records
  void Drop(std::map<uint64_t, Part>::iterator it) {
    bytes_ -= Cost(it->second);
    parts_.erase(it);
  }

  void Watch(kube::Client& client, const std::string& ns, const std::string& origin) {
    const std::string batch_prefix = origin + "-b", segment_prefix = origin + "-";
    kube::ListOptions list;
    list.label_selector = std::string(kLedgerLabel) + "=" + origin;
    // Names no object: the list is only for its resourceVersion.
    list.field_selector = "metadata.name=" + origin + "-watch";
    std::string version, last_error;
    bool announced = false;
    // Without the watch every read is a GET again: say so once per cause.
    auto failed = [&](const Status& st) {
      if (st.message() == last_error) return;
      last_error = st.message();
      log::Warn("ConfigMap ledger: cannot watch the ledger's ConfigMaps; reading them instead until it can",
                {{"origin", origin}, {"error", st.ToString()}});
    };
    while (!stop_) {
      if (version.empty()) {
        auto listed = client.List(kube::ConfigMapsPath(ns), list);
        if (!listed.ok()) {
          failed(listed.status());
          Pause();
          continue;
        }
        version = listed->resource_version;
        std::lock_guard lock(mu_);
        ++epoch_;
        segments_.clear();
        announced_.clear();
        cv_.notify_all();
      }
      if (!announced) {
        std::lock_guard lock(mu_);
        watching_ = announced = true;
      }
      kube::WatchOptions options;
      options.label_selector = list.label_selector;
      options.resource_version = version;
      options.stop = &stop_;
      Status st = client.Watch(kube::ConfigMapsPath(ns), options, [&](const kube::WatchEvent& e) {
        std::string v = api::StringAt(e.object, {"metadata", "resourceVersion"});
        if (!v.empty()) version = v;
        std::string name = api::StringAt(e.object, {"metadata", "name"});
        if (e.type != kube::WatchEventType::kAdded) return stop_ ? kube::WatchControl::kStop : kube::WatchControl::kContinue;
        if (name.size() == batch_prefix.size() + 12 && name.compare(0, batch_prefix.size(), batch_prefix) == 0 &&
            name.find_first_not_of("0123456789", batch_prefix.size()) == std::string::npos) {
          uint64_t first = std::strtoull(name.c_str() + batch_prefix.size(), nullptr, 10);
          // A batch that does not parse is left to the reads, which report it.
          if (auto part = ParsePart(e.object, name, origin, /*segment=*/false); part.ok()) Put(std::move(part).value());
          std::lock_guard lock(mu_);
          announced_[first] = api::StringAt(e.object, {"metadata", "uid"});
          while (announced_.size() > kAnnouncedKept) announced_.erase(announced_.begin());
          cv_.notify_all();
        } else if (name.size() == segment_prefix.size() + 6 &&
                   name.compare(0, segment_prefix.size(), segment_prefix) == 0 &&
                   name.find_first_not_of("0123456789", segment_prefix.size()) == std::string::npos) {
          // Kept even once deleted (retention): it existed.
          std::lock_guard lock(mu_);
          segments_.insert(std::strtoull(name.c_str() + segment_prefix.size(), nullptr, 10));
        }
        return stop_ ? kube::WatchControl::kStop : kube::WatchControl::kContinue;
      });
      if (st.code() == StatusCode::kOutOfRange) {
        version.clear();
      } else if (!st.ok()) {
        failed(st);
        Pause();
      } else {
        last_error.clear();
      }
    }
  }

  void Pause() {
    for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Part> parts_;  // by first seq
  size_t bytes_ = 0;
  uint64_t floor_ = 0;
  bool watching_ = false;  // the watch has started (WaitFor may wait for it)
  uint64_t epoch_ = 0;     // Epoch()
  std::set<uint64_t> segments_;   // indices of segments added in this epoch
  // Batches added in this epoch (the newest kAnnouncedKept): first seq -> uid.
  std::map<uint64_t, std::string> announced_;
  std::atomic<bool> stop_{false};
  std::thread watcher_;
};

class ConfigMapBackend final : public Backend, public SegmentStore {
 public:
  ConfigMapBackend(std::shared_ptr<kube::Client> client, std::string ns, std::string origin, bool read_only,
                   size_t segment_bytes, bool merge, std::shared_ptr<BatchCache> batch_cache)
      : batch_cache_(std::move(batch_cache)),
        client_(std::move(client)),
        ns_(std::move(ns)),
        origin_(std::move(origin)),
        read_only_(read_only),
        merge_(merge && !read_only),
        segment_bytes_(segment_bytes) {
    if (!read_only_) batch_cache_->Follow(client_, ns_, origin_);
    if (merge_) {
      merger_ = std::thread([this] {
        SetThreadName("ledger-merge");
        MergeLoop();
      });
    }
  }

  ~ConfigMapBackend() override { (void)Close(); }

  StatusOr<ChainState> Tail() override {
    std::lock_guard lock(mu_);
    EXECGOV_RETURN_IF_ERROR(SyncLocked());
    return state_;
  }

  Status Append(const BuildFn& build) override {
    if (read_only_) return FailedPrecondition("the ConfigMap ledger is open read-only");
    std::lock_guard lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + kAppendDeadline;
    std::mt19937 rng(std::random_device{}());
    // A create whose outcome we did not learn is resent unchanged until it
    // is answered; whether a batch went in is then decided by its last hash
    // being in the chain, never by the answer alone (a client's retry of a
    // create that went in is AlreadyExists too).
    struct Write {
      uint64_t first = 0;
      json object;
      Batch batch;
    };
    std::optional<Write> in_doubt;
    bool synced = false;  // state_ was read from the store since the last write attempt
    // Backing off only after an error. A lost race is tried again at once:
    // the read that followed it already holds the winner's batch, and a
    // sleep hands the next race to the winner as well (two busy replicas
    // starved one another into the API server's timeout that way).
    int failed = 0;
    for (int attempt = 0;; ++attempt) {
      if (std::chrono::steady_clock::now() > deadline) return Unavailable("ConfigMap ledger: could not append in time");
      if (failed > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, 2 << std::min(failed, 6)) +
                                                              static_cast<int>(rng() % 10)));
      }
      Write w;
      if (in_doubt) {
        w = *in_doubt;
      } else {
        // The tail from our own last write is usually still the tail: try it
        // without a read; a lost race costs one round and a read.
        // A view older than kConfigMapViewRefresh is read again (the base).
        bool fresh = std::chrono::steady_clock::now() - view_at_ < kConfigMapViewRefresh;
        Status st = (attempt == 0 && tail_cached_ && fresh) || synced ? Status::Ok() : SyncLocked();
        tail_cached_ = synced = false;
        if (!st.ok()) {
          if (st.code() == StatusCode::kUnavailable) {
            ++failed;
            continue;
          }
          return st;
        }
        EXECGOV_ASSIGN_OR_RETURN(w.batch, build(state_));
        if (w.batch.records.empty()) return Status::Ok();
        std::string text;
        for (const auto& r : w.batch.records) {
          text += r;
          text += '\n';
        }
        if (text.size() > kConfigMapMaxSegmentBytes) {
          return Internal("ConfigMap ledger: one batch is larger than a ConfigMap may hold");
        }
        w.first = state_.size;
        w.object = NewObject(BatchName(w.first), {{kRecordsKey, std::move(text)}}, json::object());
        // So that the merger deletes a merged run in one request.
        w.object["metadata"]["labels"][kBatchLabel] = std::to_string(w.first);
      }
      auto sent = std::chrono::steady_clock::now();
      auto created = client_->Create(kube::ConfigMapsPath(ns_), w.object);
      if (!created.ok()) {
        StatusCode code = created.status().code();
        if (code == StatusCode::kUnavailable) {
          in_doubt = std::move(w);
          ++failed;
          continue;
        }
        if (code != StatusCode::kAlreadyExists) return created.status();
        // Taken: by another writer, or by an earlier copy of this create.
        // The watch usually has the winner's batch already, or soon.
        batch_cache_->WaitFor(w.first, kLostRaceWait);
        Status st = CatchUpFromWatch() ? Status::Ok() : SyncLocked();
        if (!st.ok()) {
          ++failed;
          continue;
        }
        if (index_.count(w.batch.after.last)) return Stored(w.batch);
        in_doubt.reset();
        synced = true;
        failed = 0;
        continue;
      }
      // Stored. It is in the chain unless the batches at its seq were merged
      // into a segment (and deleted) after we read the tail, which needs
      // segment next_segment_ to have existed before the batch was stored.
      // The watch tells, when it has watched since a read that found that
      // segment missing; else a read after the create does.
      std::optional<bool> covered;
      if (absent_segment_ == next_segment_) {
        covered = batch_cache_->SegmentBefore(w.first, api::StringAt(*created, {"metadata", "uid"}), next_segment_,
                                              absent_epoch_, kLostRaceWait);
      }
      auto looked = std::chrono::steady_clock::now();
      uint64_t epoch = batch_cache_->Epoch();
      StatusOr<std::optional<Part>> next = std::optional<Part>();
      if (!covered) {
        next = ReadPart(SegmentName(next_segment_), /*segment=*/true);
        if (next.ok() && !next->has_value()) NoteAbsent(epoch);
      } else {
        looked = sent;  // the watch's answer holds for when the batch was stored
      }
      if (covered == std::optional<bool>(false) || (!covered && next.ok() && !next->has_value())) {
        view_at_ = looked;  // no segment past the view existed then
        Adopt(w.first, w.batch.records, w.batch.hashes, w.batch.after);
        Part stored;
        stored.first = w.first;
        stored.sealed = true;
        stored.text = w.object["data"][kRecordsKey].get<std::string>();
        stored.records = w.batch.records;
        stored.uid = api::StringAt(*created, {"metadata", "uid"});
        batch_cache_->Put(std::move(stored));
        return Stored(w.batch);
      }
      Status st = next.ok() ? SyncLocked() : next.status();
      if (!st.ok()) {  // outcome unknown for now: find out on the next round
        in_doubt = std::move(w);
        ++failed;
        continue;
      }
      if (index_.count(w.batch.after.last)) return Stored(w.batch);
      log::Warn("ConfigMap ledger: a batch built on a tail that was merged meanwhile; deleting it and appending again",
                {{"origin", origin_}, {"seq", w.first}});
      // Left behind if it cannot be deleted (the webhook may not delete):
      // no reader follows a batch a segment covers, and the chain is whole.
      Status deleted = client_->Delete(kube::ConfigMapPath(ns_, BatchName(w.first)));
      if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) {
        log::Warn("ConfigMap ledger: cannot delete an orphan batch; readers skip it",
                  {{"origin", origin_}, {"seq", w.first}, {"error", deleted.message()}});
      }
      in_doubt.reset();
      synced = true;
    }
  }

  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    if (from >= to) return Status::Ok();
    EXECGOV_ASSIGN_OR_RETURN(auto base, CurrentBase(/*force=*/false));
    if (base && from < base->first_seq) return FailedPrecondition(MovedMessage(*base));
    {
      // What this writer folded last: the ledger's observer reads back the
      // records it has just seen here.
      std::lock_guard lock(recent_mu_);
      if (from >= recent_first_ && to <= recent_first_ + recent_.size()) {
        for (uint64_t seq = from; seq < to; ++seq) EXECGOV_RETURN_IF_ERROR(fn(seq, recent_[seq - recent_first_]));
        return Status::Ok();
      }
    }
    // Start at the last segment known to begin at or before `from`: a sealed
    // segment never changes, so where the next one begins stays true.
    uint64_t index = base ? base->first_segment : 0, position = base ? base->first_seq : 0;
    bool known = false;  // segment `index` was seen to exist
    {
      std::lock_guard lock(scan_mu_);
      auto it = segment_starts_.upper_bound(from);
      if (it != segment_starts_.begin() && (--it)->first > position) {
        position = it->first;
        index = it->second;
        known = true;
      }
    }
    auto emit = [&](const Part& p) -> Status {
      if (p.first > position) {
        return DataLoss("ledger " + origin_ + ": records " + std::to_string(position) + ".." +
                        std::to_string(p.first - 1) + " are missing");
      }
      for (uint64_t seq = position; seq < p.first + p.records.size() && seq < to; ++seq) {
        if (seq >= from) EXECGOV_RETURN_IF_ERROR(fn(seq, p.records[seq - p.first]));
      }
      position = std::max<uint64_t>(position, p.first + p.records.size());
      return Status::Ok();
    };
    std::optional<Part> seg;
    for (;;) {
      if (position >= to) return Status::Ok();
      if (!seg) {
        EXECGOV_ASSIGN_OR_RETURN(seg, ReadPart(SegmentName(index), /*segment=*/true));
      }
      bool vanished = !seg && known;
      known = false;
      if (vanished) {
        // Seen before and gone now: moved out by retention since.
        EXECGOV_ASSIGN_OR_RETURN(base, CurrentBase(/*force=*/true));
        if (base && from < base->first_seq) return FailedPrecondition(MovedMessage(*base));
        if (base && base->first_segment > index) {
          index = base->first_segment;
          position = base->first_seq;
          continue;
        }
      }
      if (seg) {
        EXECGOV_RETURN_IF_ERROR(emit(*seg));
        if (!seg->sealed) return Status::Ok();  // a layout-1 tail: nothing follows it yet
        batch_cache_->ForgetBefore(position);
        seg.reset();
        ++index;
        std::lock_guard lock(scan_mu_);
        segment_starts_.emplace(position, index);
        continue;
      }
      // Past the segments: batches until one is missing, given out only if
      // segment `index` still does not exist after they were read (as in
      // SyncLocked: otherwise they may be orphans, and the segment holds the
      // records).
      std::vector<Part> read;
      uint64_t next = position;
      bool at_tail = false;  // nothing at `from`, where a batch was seen to end
      if (from > position) {
        // A reader following the tail (the operator's index) asks from where
        // its last scan ended, where a batch begins: start there, not at
        // every batch since the last segment (a GET each).
        bool bound;
        {
          std::lock_guard lock(scan_mu_);
          bound = batch_bounds_.count(from) > 0;
        }
        EXECGOV_ASSIGN_OR_RETURN(auto at, ReadBatch(from));
        if (at || bound) {
          position = next = from;
          at_tail = !at;
          if (at) {
            next = from + at->records.size();
            read.push_back(std::move(at).value());
          }
        }
      }
      while (!at_tail && next < to) {
        EXECGOV_ASSIGN_OR_RETURN(auto batch, ReadBatch(next));
        if (!batch) break;
        next += batch->records.size();
        read.push_back(std::move(batch).value());
      }
      {
        // Where batches begin and end, for the next scan's start.
        std::lock_guard lock(scan_mu_);
        for (const auto& batch : read) {
          batch_bounds_.insert(batch.first);
          batch_bounds_.insert(batch.first + batch.records.size());
        }
        while (batch_bounds_.size() > 4096) batch_bounds_.erase(batch_bounds_.begin());
      }
      if (read.empty()) return Status::Ok();
      EXECGOV_ASSIGN_OR_RETURN(seg, ReadPart(SegmentName(index), /*segment=*/true));
      if (seg) continue;
      for (const auto& batch : read) EXECGOV_RETURN_IF_ERROR(emit(batch));
      return Status::Ok();
    }
  }

  StatusOr<bool> Contains(const Hash& h) override {
    std::lock_guard lock(mu_);
    if (index_.count(h)) return true;
    EXECGOV_RETURN_IF_ERROR(SyncLocked());
    return index_.count(h) > 0;
  }

  StatusOr<uint64_t> First() override {
    EXECGOV_ASSIGN_OR_RETURN(auto base, CurrentBase(/*force=*/false));
    return base ? base->first_seq : uint64_t{0};
  }

  // SegmentStore (retention.h). Explicit administrative writes: allowed on
  // a read-only backend, which is how the retention code opens one.
  StatusOr<std::optional<RetentionBase>> ReadBase() override {
    auto obj = client_->Get(kube::ConfigMapPath(ns_, BaseName()));
    if (!obj.ok()) {
      if (obj.status().code() == StatusCode::kNotFound) return std::optional<RetentionBase>();
      return obj.status();
    }
    try {
      const json& meta = obj->at("metadata");
      if (meta.value("labels", json::object()).value(kLedgerLabel, "") != origin_) {
        return DataLoss(BaseName() + ": a ledger ConfigMap without its label");
      }
      auto text = obj->value("data", json::object()).value(kBaseKey, "");
      auto parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) return DataLoss(BaseName() + ": " + kBaseKey + " is not JSON");
      auto base = RetentionBase::FromJson(parsed);
      if (!base.ok()) return base.status().WithContext(BaseName());
      base->resource_version = meta.value("resourceVersion", "");
      return std::optional<RetentionBase>(std::move(base).value());
    } catch (const json::exception& e) {
      return DataLoss(BaseName() + ": " + e.what());
    }
  }

  StatusOr<std::string> WriteBase(const RetentionBase& base) override {
    json metadata = {{"name", BaseName()}, {"namespace", ns_}, {"labels", {{kLedgerLabel, origin_}}}};
    if (!base.resource_version.empty()) metadata["resourceVersion"] = base.resource_version;
    json obj = {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", std::move(metadata)},
                {"data", {{kBaseKey, base.ToJson().dump()}}}};
    auto written = base.resource_version.empty() ? client_->Create(kube::ConfigMapsPath(ns_), obj)
                                                 : client_->Update(kube::ConfigMapPath(ns_, BaseName()), obj);
    if (!written.ok()) {
      StatusCode code = written.status().code();
      if (code == StatusCode::kAlreadyExists || code == StatusCode::kAborted || code == StatusCode::kNotFound) {
        return Aborted(BaseName() + " was changed by another retention run: " + written.status().message());
      }
      return written.status();
    }
    {
      std::lock_guard lock(base_mu_);
      base_read_at_ = {};  // read it again
    }
    return api::StringAt(*written, {"metadata", "resourceVersion"});
  }

  StatusOr<std::optional<Segment>> ReadSegment(uint64_t index) override {
    EXECGOV_ASSIGN_OR_RETURN(auto part, ReadPart(SegmentName(index), /*segment=*/true));
    if (!part) return std::optional<Segment>();
    Segment out;
    out.first = part->first;
    out.records = std::move(part->records);
    out.sealed = part->sealed;
    auto created = ParseRfc3339(api::StringAt(part->object, {"metadata", "creationTimestamp"}));
    if (!created) return DataLoss(SegmentName(index) + ": no creationTimestamp");
    out.created = *created;
    return std::optional<Segment>(std::move(out));
  }

  Status DeleteSegment(uint64_t index) override {
    Status st = client_->Delete(kube::ConfigMapPath(ns_, SegmentName(index)));
    return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
  }

  Status ScanKept(uint64_t from, const RecordFn& fn) override { return Scan(from, UINT64_MAX, fn); }
  std::string StoreOrigin() const override { return origin_; }

  // 24 records of the largest size a record may have (32 KiB) still fit one
  // ConfigMap; under load, at ~700 bytes a record, a batch is ~17 KB.
  size_t MaxBatch() const override { return 24; }
  std::string DefaultOrigin() const override { return origin_; }

  Status Close() override {
    {
      std::lock_guard lock(merge_mu_);
      if (stopping_) return Status::Ok();
      stopping_ = true;
    }
    merge_cv_.notify_all();
    if (merger_.joinable()) merger_.join();
    return Status::Ok();
  }

 private:
  std::string SegmentName(uint64_t index) const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06" PRIu64, index);
    return origin_ + "-" + buf;
  }
  std::string BaseName() const { return origin_ + "-base"; }
  std::string BatchName(uint64_t first_seq) const {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%012" PRIu64, first_seq);
    return origin_ + "-b" + buf;
  }

  json NewObject(const std::string& name, json data, json annotations) const {
    json metadata = {{"name", name}, {"namespace", ns_}, {"labels", {{kLedgerLabel, origin_}}}};
    if (!annotations.empty()) metadata["annotations"] = std::move(annotations);
    json obj = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", std::move(metadata)}};
    if (data.contains(kRecordsKey)) {
      obj["data"] = std::move(data);
    } else {
      obj["binaryData"] = std::move(data);
    }
    return obj;
  }

  // Reads a segment or a batch; nullopt when it does not exist.
  StatusOr<std::optional<Part>> ReadPart(const std::string& name, bool segment) const {
    auto obj = client_->Get(kube::ConfigMapPath(ns_, name));
    if (!obj.ok()) {
      if (obj.status().code() == StatusCode::kNotFound) return std::optional<Part>();
      return obj.status();
    }
    EXECGOV_ASSIGN_OR_RETURN(Part p, ParsePart(std::move(obj).value(), name, origin_, segment));
    return std::optional<Part>(std::move(p));
  }

  // A batch by the seq of its first record: a copy of one read or stored
  // before (BatchCache), or a GET. A batch's records never change while it
  // exists, and its name is taken again only by a stale writer's orphan,
  // after a segment covers that seq: every caller reads the next segment
  // after it has the batches (a GET, never cached), as it would after fresh
  // reads, so a copy read earlier serves as well.
  StatusOr<std::optional<Part>> ReadBatch(uint64_t seq) {
    if (auto cached = batch_cache_->Get(seq)) return cached;
    EXECGOV_ASSIGN_OR_RETURN(auto batch, ReadPart(BatchName(seq), /*segment=*/false));
    if (batch) batch_cache_->Put(*batch);
    return batch;
  }

  // After a lost race: folds the batches the watch announced from the tail
  // on, with no read, as long as it can vouch that no segment covers them
  // (BatchCache::Announced). False if it folded none: SyncLocked reads.
  // Where it stops, the next create finds out whether more follow.
  bool CatchUpFromWatch() {
    if (absent_segment_ != next_segment_) return false;
    bool any = false;
    while (auto batch = batch_cache_->Announced(state_.size, next_segment_, absent_epoch_)) {
      if (!Fold(*batch, BatchName(batch->first)).ok()) return false;  // SyncLocked reads it and reports
      batches_.push_back({batch->first, std::move(batch->text), batch->records.size()});
      batch_bytes_ += batches_.back().text.size();
      any = true;
    }
    if (any) MaybeMerge();
    return any;
  }

  // Segment next_segment_ was read and found missing by a read issued in
  // watch epoch `epoch`.
  void NoteAbsent(uint64_t epoch) {
    absent_segment_ = next_segment_;
    absent_epoch_ = epoch;
  }

  // A successful append: wakes the merger when a run of batches is full.
  Status Stored(const Batch&) {
    tail_cached_ = true;
    MaybeMerge();
    return Status::Ok();
  }

  // Folds records first.. (hashes already computed by whoever built them).
  void Adopt(uint64_t first, const std::vector<std::string>& records, const std::vector<Hash>& hashes,
             const ChainState& after) {
    state_ = after;
    for (const auto& h : hashes) index_.insert(h);
    std::string text;
    for (const auto& r : records) {
      text += r;
      text += '\n';
    }
    batches_.push_back({first, std::move(text), records.size()});
    batch_bytes_ += batches_.back().text.size();
    Remember(first, records.begin(), records.end());
  }

  template <typename It>
  void Remember(uint64_t first, It begin, It end) {
    std::lock_guard lock(recent_mu_);
    if (first != recent_first_ + recent_.size()) {
      recent_.clear();
      recent_bytes_ = 0;
      recent_first_ = first;
    }
    for (It it = begin; it != end; ++it) {
      recent_.emplace_back(*it);
      recent_bytes_ += it->size();
    }
    while (recent_bytes_ > kRecentBytes && !recent_.empty()) {
      recent_bytes_ -= recent_.front().size();
      recent_.pop_front();
      ++recent_first_;
    }
  }

  // Folds the records of `p` at or after state_.size.
  Status Fold(const Part& p, const std::string& name) {
    if (p.first > state_.size) {
      return DataLoss(name + " begins at seq " + std::to_string(p.first) + ", but the ledger before it ends at " +
                      std::to_string(state_.size));
    }
    uint64_t skip = state_.size - p.first;
    if (skip >= p.records.size()) return Status::Ok();
    for (size_t k = skip; k < p.records.size(); ++k) {
      EXECGOV_ASSIGN_OR_RETURN(Hash h, state_.Apply(p.records[k]));
      if (!read_only_) index_.insert(h);
    }
    Remember(p.first + skip, p.records.begin() + static_cast<std::ptrdiff_t>(skip), p.records.end());
    return Status::Ok();
  }

  // The base as read at most kConfigMapViewRefresh ago (force: now).
  StatusOr<std::optional<RetentionBase>> CurrentBase(bool force) {
    std::lock_guard lock(base_mu_);
    auto now = std::chrono::steady_clock::now();
    if (force || base_read_at_ == std::chrono::steady_clock::time_point() ||
        now - base_read_at_ >= kConfigMapViewRefresh) {
      EXECGOV_ASSIGN_OR_RETURN(base_, ReadBase());
      base_read_at_ = now;
    }
    return base_;
  }

  // Brings state_ up to the store: batches from the tail on, and any segment
  // made since we looked (which may hold batches deleted before we read them).
  // Batches are folded only once the next segment is known not to exist
  // *after* they were read: a batch whose seq a segment covers can only have
  // been created after that segment (the real one was deleted), so that
  // read finds the segment, and the batches, orphans among them, are
  // dropped unread. Two reads when nothing is new.
  Status SyncLocked() {
    auto started = std::chrono::steady_clock::now();
    if (started - view_at_ >= kConfigMapViewRefresh) {
      // Segments we never saw may have been moved out meanwhile: the base
      // says where the store now begins (retention.h).
      EXECGOV_ASSIGN_OR_RETURN(auto base, CurrentBase(/*force=*/true));
      if (base && base->first_segment > next_segment_) {
        state_ = base->state;
        next_segment_ = base->first_segment;
        sealed_end_ = base->first_seq;
        batches_.clear();
        batch_bytes_ = 0;
        tail_cached_ = false;
      }
    }
    for (;;) {
      std::vector<std::pair<std::string, Part>> read;
      for (uint64_t next = state_.size;;) {
        std::string name = BatchName(next);
        EXECGOV_ASSIGN_OR_RETURN(auto batch, ReadBatch(next));
        if (!batch) break;
        next += batch->records.size();
        read.emplace_back(std::move(name), std::move(batch).value());
      }
      std::string name = SegmentName(next_segment_);
      uint64_t epoch = batch_cache_->Epoch();
      EXECGOV_ASSIGN_OR_RETURN(auto seg, ReadPart(name, /*segment=*/true));
      if (!seg) {
        NoteAbsent(epoch);
        for (auto& [batch_name, batch] : read) {
          EXECGOV_RETURN_IF_ERROR(Fold(batch, batch_name));
          batches_.push_back({batch.first, std::move(batch.text), batch.records.size()});
          batch_bytes_ += batches_.back().text.size();
        }
        view_at_ = started;  // segment next_segment_ did not exist after this
        break;
      }
      uint64_t before = state_.size;
      EXECGOV_RETURN_IF_ERROR(Fold(*seg, name));
      if (!seg->sealed) {
        if (read_only_) {
          if (state_.size == before) break;  // a layout-1 tail with nothing new
          continue;
        }
        // A layout-1 tail: seal it (if nobody changed it since we read it),
        // so no older writer appends to it once batches follow it.
        json obj = seg->object;
        obj["metadata"]["annotations"][kSealed] = "true";
        auto sealed = client_->Update(kube::ConfigMapPath(ns_, name), obj);
        if (!sealed.ok()) {
          if (sealed.status().code() == StatusCode::kAborted) continue;  // changed: read it again
          return sealed.status();
        }
        log::Info("ConfigMap ledger: sealed a layout-1 segment; batches follow it", {{"segment", name}});
      }
      ++next_segment_;
      sealed_end_ = seg->first + seg->records.size();
      batch_cache_->ForgetBefore(sealed_end_);
      while (!batches_.empty() && batches_.front().first < sealed_end_) {
        batch_bytes_ -= batches_.front().text.size();
        batches_.pop_front();
      }
    }
    MaybeMerge();
    return Status::Ok();
  }

  // A run of batches from the last segment's end is full when it holds
  // segment_bytes_ and another batch follows it.
  void MaybeMerge() {
    if (!merge_ || batch_bytes_ < segment_bytes_ || batches_.size() < 2) return;
    {
      std::lock_guard lock(merge_mu_);
      merge_wanted_ = true;
    }
    merge_cv_.notify_one();
  }

  void MergeLoop() {
    std::unique_lock lock(merge_mu_);
    for (;;) {
      merge_cv_.wait(lock, [this] { return stopping_ || merge_wanted_; });
      if (stopping_) return;
      merge_wanted_ = false;
      lock.unlock();
      Status st = MergeOnce();
      lock.lock();
      if (!st.ok()) {
        log::Warn("ConfigMap ledger: cannot merge batches into a segment; trying again",
                  {{"origin", origin_}, {"error", st.ToString()}});
        merge_cv_.wait_for(lock, kMergeRetry, [this] { return stopping_; });
        merge_wanted_ = true;
      }
    }
  }

  // Merges the first full run of batches into segment next_segment_, then
  // deletes the batches the stored segment covers.
  Status MergeOnce() {
    std::string text;
    uint64_t first = 0, index = 0;
    size_t count = 0;
    std::vector<uint64_t> run;
    {
      std::lock_guard lock(mu_);
      // A stale view could name a segment that was merged and moved out.
      if (std::chrono::steady_clock::now() - view_at_ >= kConfigMapViewRefresh) {
        EXECGOV_RETURN_IF_ERROR(SyncLocked());
      }
      if (batches_.size() < 2 || batches_.front().first != sealed_end_) return Status::Ok();
      first = sealed_end_;
      index = next_segment_;
      for (size_t i = 0; i + 1 < batches_.size(); ++i) {
        const auto& b = batches_[i];
        if (!run.empty() && text.size() + b.text.size() > segment_bytes_) break;
        text += b.text;
        count += b.count;
        run.push_back(b.first);
      }
      if (text.size() < segment_bytes_ && text.size() + batches_[run.size()].text.size() <= segment_bytes_) {
        return Status::Ok();  // not full yet
      }
    }
    std::string gz = Gzip(text);
    if (gz.empty()) return Internal("zlib: cannot compress a segment");
    json obj = NewObject(SegmentName(index), {{kCompressedKey, crypto::Base64Encode(gz)}},
                         {{kSealed, "true"}, {kFirstSeq, std::to_string(first)}});
    auto created = client_->Create(kube::ConfigMapsPath(ns_), obj);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) return created.status();
    // Stored, by us or by another writer merging the same batches: from
    // here on readers find these records in the segment.
    uint64_t covered = 0;
    {
      std::lock_guard lock(mu_);
      EXECGOV_RETURN_IF_ERROR(SyncLocked());
      covered = sealed_end_;
    }
    std::vector<uint64_t> merged;
    for (uint64_t b : run) {
      if (b < covered) merged.push_back(b);
    }
    EXECGOV_RETURN_IF_ERROR(DeleteBatches(merged));
    if (created.ok()) {
      log::Info("ConfigMap ledger: merged batches into a segment",
                {{"segment", SegmentName(index)}, {"records", count}, {"batches", run.size()},
                 {"bytes", text.size()}, {"storedBytes", gz.size()}});
    }
    return Status::Ok();
  }

  // Deletes the batches starting at these seqs, which a stored segment
  // covers: one DELETE of a collection per kBatchesPerDelete, selected by
  // this ledger's label and each batch's kBatchLabel, so the API server
  // does for each what one DELETE would, without a request per batch. A
  // batch the selector missed (stored without the label), or every batch
  // when the API server or RBAC refuses the collection, is deleted by name.
  Status DeleteBatches(const std::vector<uint64_t>& firsts) {
    std::set<std::string> left;
    for (uint64_t b : firsts) left.insert(BatchName(b));
    for (size_t i = 0; i < firsts.size() && collection_deletes_; i += kBatchesPerDelete) {
      std::string selector = std::string(kLedgerLabel) + "=" + origin_ + "," + kBatchLabel + " in (";
      for (size_t j = i; j < std::min(firsts.size(), i + kBatchesPerDelete); ++j) {
        if (j > i) selector += ',';
        selector += std::to_string(firsts[j]);
      }
      selector += ')';
      auto deleted = client_->DeleteCollection(kube::ConfigMapsPath(ns_), selector);
      if (!deleted.ok()) {
        // Refused for good (RBAC without deletecollection, a client or
        // server without it): one by one from now on. Otherwise this time.
        StatusCode code = deleted.status().code();
        bool refused = code == StatusCode::kPermissionDenied || code == StatusCode::kFailedPrecondition ||
                       code == StatusCode::kInternal;
        log::Warn("ConfigMap ledger: cannot delete merged batches in one request; deleting them one by one",
                  {{"origin", origin_}, {"error", deleted.status().ToString()}, {"fromNowOn", refused}});
        if (refused) collection_deletes_ = false;
        break;
      }
      for (const auto& name : *deleted) left.erase(name);
    }
    for (const auto& name : left) {
      Status st = client_->Delete(kube::ConfigMapPath(ns_, name));
      if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
    }
    return Status::Ok();
  }

  const std::shared_ptr<BatchCache> batch_cache_;
  std::shared_ptr<kube::Client> client_;
  const std::string ns_, origin_;
  const bool read_only_;
  const bool merge_;  // this writer merges full runs of batches (BackendOptions::compact)
  const size_t segment_bytes_;

  std::mutex mu_;  // the writer's view, below
  ChainState state_;
  HashIndex index_;
  uint64_t next_segment_ = 0;  // the first segment index not known to exist
  uint64_t sealed_end_ = 0;    // the seq after the known segments
  struct StoredBatch {
    uint64_t first;
    std::string text;
    size_t count;
  };
  std::deque<StoredBatch> batches_;  // folded batches from sealed_end_ on, in order
  size_t batch_bytes_ = 0;
  bool tail_cached_ = false;  // state_ is what our last write made it
  // The segment a read found missing, and the watch epoch it was issued in
  // (0: no watch then): the watch has seen every segment stored since, while
  // its epoch is the same (BatchCache::SegmentBefore).
  uint64_t absent_segment_ = UINT64_MAX;
  uint64_t absent_epoch_ = 0;
  // When segment next_segment_ was last seen not to exist (zero: never):
  // any segment past the view was created after it.
  std::chrono::steady_clock::time_point view_at_;

  std::mutex base_mu_;  // below: the base as last read, for First and Scan
  std::optional<RetentionBase> base_;
  std::chrono::steady_clock::time_point base_read_at_;  // zero: never

  std::mutex recent_mu_;
  std::deque<std::string> recent_;  // records recent_first_.. as folded
  uint64_t recent_first_ = 0;
  size_t recent_bytes_ = 0;

  std::mutex scan_mu_;
  std::map<uint64_t, uint64_t> segment_starts_;
  std::set<uint64_t> batch_bounds_;  // seqs where a batch was seen to begin or end  // first seq -> index, of segments after sealed ones

  std::mutex merge_mu_;
  std::condition_variable merge_cv_;
  bool merge_wanted_ = false;
  std::atomic<bool> collection_deletes_{true};  // DeleteBatches may use DeleteCollection
  bool stopping_ = false;
  std::thread merger_;
};

}  // namespace

namespace {

// `scope` tells apart the API servers of ledgers with the same namespace and
// origin, for the BatchCache they share within this process.
StatusOr<std::unique_ptr<Backend>> Open(std::shared_ptr<kube::Client> client, const std::string& ns,
                                        const std::string& origin, const BackendOptions& options,
                                        size_t segment_bytes, const std::string& scope) {
  if (!ValidName(ns)) return InvalidArgument("configmap ledger: \"" + ns + "\" is not a namespace name");
  if (!ValidName(origin)) {
    return InvalidArgument("configmap ledger: origin \"" + origin +
                           "\" must be a lower-case DNS label of at most 56 characters (it names ConfigMaps)");
  }
  return std::unique_ptr<Backend>(new ConfigMapBackend(std::move(client), ns, origin, options.read_only, segment_bytes,
                                                       options.compact, BatchCache::For(scope + " " + ns + "/" + origin)));
}

}  // namespace

StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(std::shared_ptr<kube::Client> client, const std::string& ns,
                                                        const std::string& origin, const BackendOptions& options,
                                                        size_t segment_bytes) {
  char scope[32];
  std::snprintf(scope, sizeof scope, "client@%p", static_cast<const void*>(client.get()));
  return Open(std::move(client), ns, origin, options, segment_bytes, scope);
}

StatusOr<ConfigMapUrl> ParseConfigMapUrl(const std::string& rest) {
  ConfigMapUrl out;
  std::string path = rest;
  if (size_t q = path.find('?'); q != std::string::npos) {
    std::string query = path.substr(q + 1);
    path = path.substr(0, q);
    for (size_t start = 0; start < query.size();) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string part = query.substr(start, amp - start);
      start = amp + 1;
      if (part.rfind("kubeconfig=", 0) == 0) {
        out.kubeconfig = part.substr(11);
      } else if (part.rfind("segment-bytes=", 0) == 0) {
        out.segment_bytes = std::strtoull(part.c_str() + 14, nullptr, 10);
        if (out.segment_bytes < 1024 || out.segment_bytes > kConfigMapMaxSegmentBytes) {
          return InvalidArgument("configmap ledger URL: segment-bytes must be 1024.." +
                                 std::to_string(kConfigMapMaxSegmentBytes));
        }
      } else {
        return InvalidArgument("configmap ledger URL: unknown parameter \"" + part + "\" (kubeconfig, segment-bytes)");
      }
    }
  }
  out.ns = path;
  if (size_t slash = path.find('/'); slash != std::string::npos) {
    out.ns = path.substr(0, slash);
    out.store = path.substr(slash + 1);
  }
  return out;
}

StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(const std::string& rest, const BackendOptions& options) {
  EXECGOV_ASSIGN_OR_RETURN(ConfigMapUrl url, ParseConfigMapUrl(rest));
  EXECGOV_ASSIGN_OR_RETURN(kube::RestConfig config, kube::DefaultRestConfig(url.kubeconfig));
  EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewClient(config));
  return Open(std::shared_ptr<kube::Client>(std::move(client)), url.ns, url.store, options, url.segment_bytes,
              config.server);
}

}  // namespace execgov::ledger
