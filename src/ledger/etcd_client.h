// The few etcd v3 calls the ledger needs (range, txn), over etcd's JSON
// gateway (POST /v3/kv/..., keys and values base64) since gRPC is not in our
// dependency set. Several endpoints fail over: a member that refuses or
// times out is skipped for the next, and the caller learns Unavailable only
// when every member failed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/http.h"

namespace execgov::ledger {

struct EtcdConfig {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379" or https://
  std::string ca_pem, cert_pem, key_pem;
  std::chrono::milliseconds timeout{5000};
};

struct EtcdKeyValue {
  std::string key, value;
  int64_t mod_revision = 0;
};

struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  bool more = false;
  int64_t count = 0;
  int64_t revision = 0;  // of the store when read
};

// One operation of a transaction's success or failure branch.
struct EtcdOp {
  enum Kind { kPut, kRange, kDeleteRange } kind;
  std::string key, value, range_end;
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;
  std::vector<EtcdRange> ranges;  // one per kRange op of the branch taken
};

class EtcdClient {
 public:
  static StatusOr<std::unique_ptr<EtcdClient>> Create(const EtcdConfig& config);

  // Keys in [key, range_end) (range_end empty: just key), up to limit (0:
  // all), as of `revision` (0: the latest).
  StatusOr<EtcdRange> Range(const std::string& key, const std::string& range_end, int64_t limit,
                            bool count_only = false, int64_t revision = 0);
  // Succeeds with `success` if `compare_key`'s mod revision equals
  // `mod_revision` (0: the key does not exist), else runs `failure`.
  // Unavailable means the outcome is unknown: the transaction may have committed.
  StatusOr<EtcdTxnResult> TxnIfModRevision(const std::string& compare_key, int64_t mod_revision,
                                           const std::vector<EtcdOp>& success, const std::vector<EtcdOp>& failure);
  Status Put(const std::string& key, const std::string& value);
  Status DeleteRange(const std::string& key, const std::string& range_end);

  // The smallest key after every key with this prefix (etcd's prefix range end).
  static std::string PrefixEnd(const std::string& prefix);

 private:
  explicit EtcdClient(std::vector<std::unique_ptr<kube::HttpClient>> members) : members_(std::move(members)) {}
  // Posts to the member that answered last. Reads fail over to the next
  // member at once; writes do not: a write a member may have applied before
  // failing must come back to the caller as Unavailable (outcome unknown),
  // and the caller's retry goes to the next member.
  StatusOr<nlohmann::json> Call(const std::string& path, const nlohmann::json& body, bool is_read);

  std::vector<std::unique_ptr<kube::HttpClient>> members_;
  std::atomic<size_t> current_{0};
};

}  // namespace execgov::ledger
