#include "ledger/etcd_client.h"

#include <charconv>

#include "crypto/encoding.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

std::string B64(const std::string& s) { return crypto::Base64Encode(s); }

std::string Unb64(const json& j) {
  if (!j.is_string()) return "";
  auto raw = crypto::Base64Decode(j.get<std::string>());
  return raw ? *raw : "";
}

// The gateway writes int64 as strings and omits zero values.
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return 0;
  int64_t v = 0;
  const std::string& s = it->get_ref<const std::string&>();
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

json OpJson(const EtcdOp& op) {
  switch (op.kind) {
    case EtcdOp::kPut:
      return {{"request_put", {{"key", B64(op.key)}, {"value", B64(op.value)}}}};
    case EtcdOp::kRange: {
      json r = {{"key", B64(op.key)}};
      if (!op.range_end.empty()) r["range_end"] = B64(op.range_end);
      return {{"request_range", r}};
    }
    case EtcdOp::kDeleteRange: {
      json r = {{"key", B64(op.key)}};
      if (!op.range_end.empty()) r["range_end"] = B64(op.range_end);
      return {{"request_delete_range", r}};
    }
  }
  return {};
}

EtcdRange ParseRange(const json& j) {
  EtcdRange r;
  if (auto kvs = j.find("kvs"); kvs != j.end()) {
    for (const auto& kv : *kvs) r.kvs.push_back({Unb64(kv.value("key", json())), Unb64(kv.value("value", json())),
                                                 Int(kv, "mod_revision")});
  }
  r.more = j.value("more", false);
  r.count = Int(j, "count");
  if (auto h = j.find("header"); h != j.end()) r.revision = Int(*h, "revision");
  return r;
}

}  // namespace

StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdConfig& config) {
  if (config.endpoints.empty()) return InvalidArgument("etcd: no endpoints");
  std::vector<std::unique_ptr<kube::HttpClient>> members;
  for (const auto& e : config.endpoints) {
    kube::HttpConfig h;
    h.base_url = e;
    h.ca_pem = config.ca_pem;
    h.cert_pem = config.cert_pem;
    h.key_pem = config.key_pem;
    h.timeout = config.timeout;
    EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewHttpClient(h));
    members.push_back(std::move(client));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(members)));
}

StatusOr<json> EtcdClient::Call(const std::string& path, const json& body, bool is_read) {
  std::string payload = body.dump();
  Status last;
  // Each member at most once, starting from the one that answered last.
  size_t start = current_.load();
  for (size_t n = 0; n < members_.size(); ++n) {
    size_t i = (start + n) % members_.size();
    auto resp = members_[i]->Request("POST", path, payload);
    if (!resp.ok()) {
      last = resp.status();
      if (!is_read) {
        current_ = (i + 1) % members_.size();
        return last;
      }
      continue;
    }
    json j = json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
    if (resp->status == 200 && j.is_object()) {
      current_ = i;
      return j;
    }
    std::string message = j.is_object() ? j.value("message", j.value("error", resp->body)) : resp->body;
    // gRPC code 14 (no leader, member stopping) or an HTTP 5xx: another member may answer.
    int64_t code = j.is_object() && j.contains("code") && j["code"].is_number() ? j["code"].get<int64_t>() : 0;
    if (code == 14 || resp->status >= 500) {
      last = Unavailable("etcd " + path + ": " + message);
      if (!is_read) {
        current_ = (i + 1) % members_.size();
        return last;
      }
      continue;
    }
    if (code == 8) return Status(StatusCode::kResourceExhausted, "etcd " + path + ": " + message);
    return InvalidArgument("etcd " + path + ": " + message);
  }
  return last.ok() ? Unavailable("etcd: no member answered") : last;
}

StatusOr<EtcdRange> EtcdClient::Range(const std::string& key, const std::string& range_end, int64_t limit,
                                      bool count_only, int64_t revision) {
  json body = {{"key", B64(key)}};
  if (!range_end.empty()) body["range_end"] = B64(range_end);
  if (limit > 0) body["limit"] = std::to_string(limit);
  if (count_only) body["count_only"] = true;
  if (revision > 0) body["revision"] = std::to_string(revision);
  EXECGOV_ASSIGN_OR_RETURN(json j, Call("/v3/kv/range", body, /*is_read=*/true));
  return ParseRange(j);
}

StatusOr<EtcdTxnResult> EtcdClient::TxnIfModRevision(const std::string& compare_key, int64_t mod_revision,
                                                     const std::vector<EtcdOp>& success,
                                                     const std::vector<EtcdOp>& failure) {
  json body = {{"compare", json::array({{{"key", B64(compare_key)},
                                         {"result", "EQUAL"},
                                         {"target", "MOD"},
                                         {"mod_revision", std::to_string(mod_revision)}}})},
               {"success", json::array()},
               {"failure", json::array()}};
  for (const auto& op : success) body["success"].push_back(OpJson(op));
  for (const auto& op : failure) body["failure"].push_back(OpJson(op));
  EXECGOV_ASSIGN_OR_RETURN(json j, Call("/v3/kv/txn", body, /*is_read=*/false));
  EtcdTxnResult r;
  r.succeeded = j.value("succeeded", false);
  if (auto h = j.find("header"); h != j.end()) r.revision = Int(*h, "revision");
  if (auto responses = j.find("responses"); responses != j.end()) {
    for (const auto& resp : *responses) {
      if (auto rr = resp.find("response_range"); rr != resp.end()) r.ranges.push_back(ParseRange(*rr));
    }
  }
  return r;
}

Status EtcdClient::Put(const std::string& key, const std::string& value) {
  return Call("/v3/kv/put", {{"key", B64(key)}, {"value", B64(value)}}, /*is_read=*/false).status();
}

Status EtcdClient::DeleteRange(const std::string& key, const std::string& range_end) {
  json body = {{"key", B64(key)}};
  if (!range_end.empty()) body["range_end"] = B64(range_end);
  return Call("/v3/kv/deleterange", body, /*is_read=*/false).status();
}

std::string EtcdClient::PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace execgov::ledger
