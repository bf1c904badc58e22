#include "ledger/configmap_backend.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "api/object.h"
#include "core/log.h"
#include "kube/kubeconfig.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

constexpr const char* kLedgerLabel = "execgov.io/ledger";
constexpr const char* kSealed = "execgov.io/sealed";
constexpr const char* kFirstSeq = "execgov.io/first-seq";
constexpr auto kAppendDeadline = std::chrono::seconds(60);

// A segment as read: its records (lines), whether sealed, and its version.
struct Segment {
  std::vector<std::string> records;
  std::string text;  // data.records as stored
  bool sealed = false;
  std::string resource_version;
  json object;
};

// A name the API server takes for a namespace or as the stem of a ConfigMap
// name (which adds "-NNNNNN"): a DNS-1123 subdomain of at most 56 characters.
bool ValidName(const std::string& s) { return s.size() <= 56 && api::IsDns1123Subdomain(s); }

class ConfigMapBackend final : public Backend {
 public:
  ConfigMapBackend(std::shared_ptr<kube::Client> client, std::string ns, std::string origin, bool read_only,
                   size_t segment_bytes)
      : client_(std::move(client)),
        ns_(std::move(ns)),
        origin_(std::move(origin)),
        read_only_(read_only),
        segment_bytes_(segment_bytes) {}

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
    // A write whose outcome we did not learn is resent unchanged (same
    // resourceVersion, or the same create) until it succeeds or conflicts;
    // a conflict then means it applied (its last hash is stored) or is dead.
    // Rebuilding it instead could store the batch twice.
    struct Write {
      bool create = false;
      std::string path;
      json object;
      Hash last{};
    };
    std::optional<Write> in_doubt;
    for (int attempt = 0;; ++attempt) {
      if (std::chrono::steady_clock::now() > deadline) return Unavailable("ConfigMap ledger: could not append in time");
      if (attempt > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, 2 << std::min(attempt, 6)) +
                                                              static_cast<int>(rng() % 10)));
      }
      Write w;
      if (in_doubt) {
        w = *in_doubt;
      } else {
        // The tail from our own last write is usually still the tail: try it
        // without a read; a conflict costs one round and a re-read.
        Status st = attempt == 0 && tail_cached_ ? Status::Ok() : SyncLocked();
        tail_cached_ = false;
        if (!st.ok()) {
          if (st.code() == StatusCode::kUnavailable) continue;
          return st;
        }
        EXECGOV_ASSIGN_OR_RETURN(Batch batch, build(state_));
        if (batch.records.empty()) return Status::Ok();
        std::string add;
        for (const auto& r : batch.records) {
          add += r;
          add += '\n';
        }
        if (add.size() > segment_bytes_) return Internal("ConfigMap ledger: one batch is larger than a segment");
        w.last = batch.after.last;
        if (tail_exists_ && tail_.text.size() + add.size() > segment_bytes_) {
          // Full: seal it (only if nobody changed it since we read it); the
          // next round sees it sealed and creates the successor.
          json obj = tail_.object;
          obj["metadata"]["annotations"][kSealed] = "true";
          auto sealed = client_->Update(kube::ConfigMapPath(ns_, Name(tail_index_)), obj);
          if (!sealed.ok() && sealed.status().code() != StatusCode::kAborted &&
              sealed.status().code() != StatusCode::kUnavailable) {
            return sealed.status();
          }
          continue;
        }
        if (tail_exists_) {
          w.path = kube::ConfigMapPath(ns_, Name(tail_index_));
          w.object = tail_.object;
          w.object["data"]["records"] = tail_.text + add;
        } else {
          w.create = true;
          w.path = kube::ConfigMapsPath(ns_);
          w.object = NewSegment(tail_index_, state_.size, add);
        }
      }
      auto written = w.create ? client_->Create(w.path, w.object) : client_->Update(w.path, w.object);
      if (written.ok()) {
        if (w.create) tail_known_ = 0;  // a new segment: fold all of it
        EXECGOV_RETURN_IF_ERROR(Adopt(*written));
        tail_cached_ = true;
        return Status::Ok();
      }
      StatusCode code = written.status().code();
      if (code == StatusCode::kUnavailable) {
        in_doubt = std::move(w);
        continue;
      }
      if (code != StatusCode::kAborted && code != StatusCode::kAlreadyExists) return written.status();
      // A stale resourceVersion or a segment someone else started: was it our earlier copy?
      if (in_doubt) {
        Status st = SyncLocked();
        if (!st.ok()) continue;
        if (index_.count(in_doubt->last)) return Status::Ok();
        in_doubt.reset();
      }
    }
  }

  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    // Start at the last segment known to begin at or before `from`: a sealed
    // segment never changes, so where its successor begins stays true, and a
    // reader following the ledger (the operator's index) re-reads only the
    // unsealed tail instead of every segment from the first.
    uint64_t first_index = 0, position = 0;
    {
      std::lock_guard lock(scan_mu_);
      auto it = segment_starts_.upper_bound(from);
      // segment_starts_ maps a start position to its segment index.
      if (it != segment_starts_.begin()) {
        --it;
        position = it->first;
        first_index = it->second;
      }
    }
    for (uint64_t i = first_index;; ++i) {
      auto seg = Read(i);
      if (!seg.ok()) return seg.status().code() == StatusCode::kNotFound ? Status::Ok() : seg.status();
      uint64_t start = position;
      for (const auto& r : seg->records) {
        if (position >= to) return Status::Ok();
        if (position >= from) EXECGOV_RETURN_IF_ERROR(fn(position, r));
        ++position;
      }
      if (!seg->sealed) return Status::Ok();
      std::lock_guard lock(scan_mu_);
      segment_starts_.emplace(start + seg->records.size(), i + 1);
    }
  }

  StatusOr<bool> Contains(const Hash& h) override {
    std::lock_guard lock(mu_);
    if (index_.count(h)) return true;
    EXECGOV_RETURN_IF_ERROR(SyncLocked());
    return index_.count(h) > 0;
  }

  size_t MaxBatch() const override { return 256; }
  std::string DefaultOrigin() const override { return origin_; }
  Status Close() override { return Status::Ok(); }

 private:
  std::string Name(uint64_t index) const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06" PRIu64, index);
    return origin_ + "-" + buf;
  }

  json NewSegment(uint64_t index, uint64_t first_seq, const std::string& records) const {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata",
             {{"name", Name(index)},
              {"namespace", ns_},
              {"labels", {{kLedgerLabel, origin_}}},
              {"annotations", {{kFirstSeq, std::to_string(first_seq)}}}}},
            {"data", {{"records", records}}}};
  }

  StatusOr<Segment> Parse(const json& obj) const {
    Segment s;
    s.object = obj;
    try {
      s.resource_version = obj.at("metadata").value("resourceVersion", "");
      auto labels = obj.at("metadata").value("labels", json::object());
      if (labels.value(kLedgerLabel, "") != origin_) return DataLoss("a ledger segment without the ledger label");
      auto annotations = obj.at("metadata").value("annotations", json::object());
      s.sealed = annotations.value(kSealed, "") == "true";
      s.text = obj.value("data", json::object()).value("records", "");
    } catch (const json::exception& e) {
      return DataLoss(std::string("a ledger segment: ") + e.what());
    }
    if (!s.text.empty() && s.text.back() != '\n') return DataLoss("a ledger segment does not end with a newline");
    for (auto line : SplitLines(s.text)) s.records.emplace_back(line);
    return s;
  }

  StatusOr<Segment> Read(uint64_t index) const {
    EXECGOV_ASSIGN_OR_RETURN(json obj, client_->Get(kube::ConfigMapPath(ns_, Name(index))));
    return Parse(obj);
  }

  // Folds a segment we just read or wrote: records past what we hold.
  Status Adopt(const json& obj) {
    EXECGOV_ASSIGN_OR_RETURN(Segment s, Parse(obj));
    for (size_t k = tail_known_; k < s.records.size(); ++k) {
      EXECGOV_ASSIGN_OR_RETURN(Hash h, state_.Apply(s.records[k]));
      if (!read_only_) index_.insert(h);
    }
    tail_known_ = s.records.size();
    tail_ = std::move(s);
    tail_exists_ = true;
    return Status::Ok();
  }

  // Reads from the segment we last knew onwards until the unsealed tail (or
  // a sealed one whose successor does not exist yet).
  Status SyncLocked() {
    for (;;) {
      auto seg = client_->Get(kube::ConfigMapPath(ns_, Name(tail_index_)));
      if (!seg.ok()) {
        if (seg.status().code() != StatusCode::kNotFound) return seg.status();
        tail_exists_ = false;
        return Status::Ok();
      }
      EXECGOV_RETURN_IF_ERROR(Adopt(*seg));
      if (!tail_.sealed) return Status::Ok();
      // Sealed: its successor (if any) holds what follows.
      auto next = client_->Get(kube::ConfigMapPath(ns_, Name(tail_index_ + 1)));
      if (!next.ok()) {
        if (next.status().code() != StatusCode::kNotFound) return next.status();
        ++tail_index_;
        tail_known_ = 0;
        tail_exists_ = false;
        return Status::Ok();
      }
      ++tail_index_;
      tail_known_ = 0;
    }
  }

  std::shared_ptr<kube::Client> client_;
  const std::string ns_, origin_;
  const bool read_only_;
  const size_t segment_bytes_;
  std::mutex mu_;
  ChainState state_;
  HashIndex index_;
  uint64_t tail_index_ = 0;  // the segment appends go to
  size_t tail_known_ = 0;    // its records folded into state_
  bool tail_exists_ = false;
  bool tail_cached_ = false;  // tail_ is what our last write returned
  Segment tail_;
  std::mutex scan_mu_;
  // Where segments after sealed ones begin: first position -> segment index.
  std::map<uint64_t, uint64_t> segment_starts_;
};

}  // namespace

StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(std::shared_ptr<kube::Client> client, const std::string& ns,
                                                        const std::string& origin, const BackendOptions& options,
                                                        size_t segment_bytes) {
  if (!ValidName(ns)) return InvalidArgument("configmap ledger: \"" + ns + "\" is not a namespace name");
  if (!ValidName(origin)) {
    return InvalidArgument("configmap ledger: origin \"" + origin +
                           "\" must be a lower-case DNS label of at most 56 characters (it names ConfigMaps)");
  }
  return std::unique_ptr<Backend>(new ConfigMapBackend(std::move(client), ns, origin, options.read_only, segment_bytes));
}

StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(const std::string& rest, const BackendOptions& options) {
  std::string path = rest, kubeconfig;
  size_t segment_bytes = kConfigMapSegmentBytes;
  if (size_t q = path.find('?'); q != std::string::npos) {
    std::string query = path.substr(q + 1);
    path = path.substr(0, q);
    for (size_t start = 0; start < query.size();) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string part = query.substr(start, amp - start);
      start = amp + 1;
      if (part.rfind("kubeconfig=", 0) == 0) {
        kubeconfig = part.substr(11);
      } else if (part.rfind("segment-bytes=", 0) == 0) {
        segment_bytes = std::strtoull(part.c_str() + 14, nullptr, 10);
        if (segment_bytes < 1024 || segment_bytes > kConfigMapMaxSegmentBytes) {
          return InvalidArgument("configmap ledger URL: segment-bytes must be 1024.." +
                                 std::to_string(kConfigMapMaxSegmentBytes));
        }
      } else {
        return InvalidArgument("configmap ledger URL: unknown parameter \"" + part + "\" (kubeconfig, segment-bytes)");
      }
    }
  }
  std::string ns = path, origin = "execgov-ledger";
  if (size_t slash = path.find('/'); slash != std::string::npos) {
    ns = path.substr(0, slash);
    origin = path.substr(slash + 1);
  }
  EXECGOV_ASSIGN_OR_RETURN(kube::RestConfig config, kube::DefaultRestConfig(kubeconfig));
  EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewClient(config));
  return OpenConfigMapBackend(std::shared_ptr<kube::Client>(std::move(client)), ns, origin, options, segment_bytes);
}

}  // namespace execgov::ledger
