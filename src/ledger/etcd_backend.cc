#include "ledger/etcd_backend.h"

#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "core/file.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "ledger/etcd_client.h"

namespace execgov::ledger {
namespace {

// etcd refuses transactions of more than 128 operations by default: each
// record costs two (record and hash index), plus one for head.
constexpr size_t kMaxRecordsPerTxn = 60;
constexpr int64_t kScanPage = 1000;
constexpr auto kAppendDeadline = std::chrono::seconds(60);

std::string SeqKey(const std::string& prefix, uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64, seq);
  return prefix + "/r/" + buf;
}

class EtcdBackend final : public Backend {
 public:
  EtcdBackend(std::unique_ptr<EtcdClient> client, std::string prefix)
      : client_(std::move(client)), prefix_(std::move(prefix)) {}

  StatusOr<ChainState> Tail() override {
    std::lock_guard lock(mu_);
    EXECGOV_RETURN_IF_ERROR(ReadHead());
    return head_;
  }

  Status Append(const BuildFn& build) override {
    std::lock_guard lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + kAppendDeadline;
    bool head_fresh = head_cached_;  // a head from our last append saves a read; a stale one only costs a retry
    std::mt19937 rng(std::random_device{}());
    // A transaction whose outcome we did not learn (the member died or timed
    // out mid-call) is resent unchanged, never rebuilt: both copies compare
    // the same head revision, so at most one can ever apply. Only when the
    // head has moved on without it is it certainly dead and the batch rebuilt.
    struct Attempt {
      std::vector<EtcdOp> ops;
      int64_t revision;
      ChainState next;
    };
    std::optional<Attempt> in_doubt;
    for (int attempt = 0;; ++attempt) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable("etcd: could not append within " + std::to_string(kAppendDeadline.count()) + "s");
      }
      if (attempt > 0 && !head_fresh) {
        // Back off a little, with jitter, so contending writers spread out.
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, 5 << std::min(attempt, 5)) +
                                                              static_cast<int>(rng() % 10)));
      }
      Attempt a;
      if (in_doubt) {
        a = *in_doubt;
      } else {
        if (!head_fresh) {
          Status st = ReadHead();
          if (!st.ok()) {
            if (st.code() == StatusCode::kUnavailable) continue;
            return st;
          }
        }
        EXECGOV_ASSIGN_OR_RETURN(Batch batch, build(head_));
        if (batch.records.empty()) return Status::Ok();
        if (batch.records.size() > kMaxRecordsPerTxn + 1) return Internal("etcd: batch larger than one transaction");
        a.revision = head_revision_;
        for (size_t i = 0; i < batch.records.size(); ++i) {
          uint64_t seq = head_.size + i;
          a.ops.push_back({EtcdOp::kPut, SeqKey(prefix_, seq), std::move(batch.records[i]), ""});
          a.ops.push_back({EtcdOp::kPut, HashKey(batch.hashes[i]), std::to_string(seq), ""});
        }
        a.next = std::move(batch.after);
        a.ops.push_back({EtcdOp::kPut, HeadKey(), a.next.ToJson().dump(), ""});
      }
      auto txn = client_->TxnIfModRevision(HeadKey(), a.revision, a.ops, {{EtcdOp::kRange, HeadKey(), "", ""}});
      if (!txn.ok()) {
        if (txn.status().code() != StatusCode::kUnavailable) return txn.status();
        in_doubt = std::move(a);
        head_fresh = head_cached_ = false;
        continue;
      }
      if (txn->succeeded) {
        head_ = std::move(a.next);
        head_revision_ = txn->revision;  // the head was written in this revision
        head_cached_ = true;
        return Status::Ok();
      }
      if (in_doubt) {
        // The head moved: by our earlier copy, or by someone else (then ours is dead).
        auto found = client_->Range(HashKey(in_doubt->next.last), "", 1, /*count_only=*/true);
        if (!found.ok()) continue;
        if (found->count > 0) {
          log::Info("etcd: an append whose outcome was unknown had committed", {{"prefix", prefix_}});
          head_cached_ = false;
          return Status::Ok();
        }
        in_doubt.reset();
      }
      // Lost the race: the failure branch read the new head for us.
      Status st = txn->ranges.empty() ? Internal("etcd: txn failure without head") : SetHead(txn->ranges[0]);
      if (!st.ok()) return st;
      head_fresh = true;
    }
  }

  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    std::string key = SeqKey(prefix_, from);
    const std::string end = to == UINT64_MAX ? EtcdClient::PrefixEnd(prefix_ + "/r/") : SeqKey(prefix_, to);
    uint64_t position = from;
    int64_t revision = 0;
    for (;;) {
      // Later pages read at the first page's revision: one consistent snapshot.
      EXECGOV_ASSIGN_OR_RETURN(EtcdRange page, client_->Range(key, end, kScanPage, false, revision));
      if (revision == 0) revision = page.revision;
      for (const auto& kv : page.kvs) EXECGOV_RETURN_IF_ERROR(fn(position++, kv.value));
      if (!page.more || page.kvs.empty()) return Status::Ok();
      key = page.kvs.back().key + '\0';
    }
  }

  StatusOr<bool> Contains(const Hash& h) override {
    EXECGOV_ASSIGN_OR_RETURN(auto r, client_->Range(HashKey(h), "", 1, /*count_only=*/true));
    return r.count > 0;
  }

  size_t MaxBatch() const override { return kMaxRecordsPerTxn; }
  std::string DefaultOrigin() const override { return "execgov.local/etcd" + prefix_; }
  Status Close() override { return Status::Ok(); }

 private:
  std::string HeadKey() const { return prefix_ + "/head"; }
  std::string HashKey(const Hash& h) const { return prefix_ + "/h/" + crypto::HexEncode(crypto::HashBytes(h)); }

  Status ReadHead() {
    EXECGOV_ASSIGN_OR_RETURN(EtcdRange r, client_->Range(HeadKey(), "", 1));
    return SetHead(r);
  }

  Status SetHead(const EtcdRange& r) {
    if (r.kvs.empty()) {
      head_ = ChainState{};
      head_revision_ = 0;
      return Status::Ok();
    }
    auto j = nlohmann::json::parse(r.kvs[0].value, nullptr, false);
    if (j.is_discarded()) return DataLoss("etcd: " + HeadKey() + " is not JSON");
    EXECGOV_ASSIGN_OR_RETURN(head_, ChainState::FromJson(j));
    head_revision_ = r.kvs[0].mod_revision;
    return Status::Ok();
  }

  std::unique_ptr<EtcdClient> client_;
  const std::string prefix_;
  std::mutex mu_;
  ChainState head_;
  int64_t head_revision_ = 0;
  bool head_cached_ = false;
};

// "k=v&k=v" into pairs.
std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& q) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= q.size()) {
    size_t amp = q.find('&', start);
    if (amp == std::string::npos) amp = q.size();
    std::string part = q.substr(start, amp - start);
    size_t eq = part.find('=');
    if (!part.empty()) out.emplace_back(part.substr(0, eq), eq == std::string::npos ? "" : part.substr(eq + 1));
    start = amp + 1;
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<Backend>> OpenEtcdBackend(const std::string& rest, bool tls, const BackendOptions& options) {
  std::string hosts = rest, prefix = "/execgov/ledger", query;
  if (size_t q = hosts.find('?'); q != std::string::npos) {
    query = hosts.substr(q + 1);
    hosts = hosts.substr(0, q);
  }
  if (size_t slash = hosts.find('/'); slash != std::string::npos) {
    prefix = hosts.substr(slash);
    hosts = hosts.substr(0, slash);
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  }
  EtcdConfig config;
  size_t start = 0;
  while (start < hosts.size()) {
    size_t comma = hosts.find(',', start);
    if (comma == std::string::npos) comma = hosts.size();
    std::string host = hosts.substr(start, comma - start);
    if (!host.empty()) config.endpoints.push_back((tls ? "https://" : "http://") + host);
    start = comma + 1;
  }
  if (config.endpoints.empty()) return InvalidArgument("etcd ledger URL without HOST:PORT");
  for (const auto& [k, v] : ParseQuery(query)) {
    std::string* target = k == "cacert" ? &config.ca_pem : k == "cert" ? &config.cert_pem : k == "key" ? &config.key_pem : nullptr;
    if (!target) return InvalidArgument("etcd ledger URL: unknown parameter \"" + k + "\" (cacert, cert, key)");
    EXECGOV_ASSIGN_OR_RETURN(*target, ReadFile(v));
  }
  if (config.cert_pem.empty() != config.key_pem.empty()) {
    return InvalidArgument("etcd ledger URL: cert and key go together");
  }
  (void)options;  // etcd readers and writers open the same way: nothing is created until the first append
  EXECGOV_ASSIGN_OR_RETURN(auto client, EtcdClient::Create(config));
  return std::unique_ptr<Backend>(new EtcdBackend(std::move(client), prefix));
}

}  // namespace execgov::ledger
