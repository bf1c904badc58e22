#include "webhook/ledger_forward.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_fast.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "kube/http.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kRequestContext = "execgov ledger forward request v1\n";
constexpr std::string_view kResponseContext = "execgov ledger forward response v1\n";
constexpr uint64_t kMaxUnixMillis = uint64_t{1} << 50;  // the year 37648

int64_t UnixMillis(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
}

// "<base64 signature>\n<payload>" split; nullopt when malformed.
struct Signed {
  std::string signature_b64;
  std::string signature;
  std::string_view payload;
};
std::optional<Signed> SplitSigned(std::string_view body) {
  size_t nl = body.find('\n');
  if (nl == std::string_view::npos || nl > 128) return std::nullopt;
  Signed s;
  s.signature_b64 = std::string(body.substr(0, nl));
  auto sig = crypto::Base64Decode(s.signature_b64);
  if (!sig) return std::nullopt;
  s.signature = std::move(*sig);
  s.payload = body.substr(nl + 1);
  return s;
}

StatusOr<std::string> SignWith(const crypto::PrivateKey& key, std::string_view context, std::string_view payload) {
  std::string message;
  message.reserve(context.size() + payload.size());
  message.append(context).append(payload);
  EXECGOV_ASSIGN_OR_RETURN(std::string sig, key.Sign(message));
  return crypto::Base64Encode(sig);
}

HttpResponse Plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

// --- the writer's side -------------------------------------------------------

class ForwardHandler {
 public:
  ForwardHandler(ledger::Ledger* ledger, FileReplayStore* replay, std::function<void(std::string_view)> observe,
                 crypto::PrivateKey key, const Clock* clock, std::function<bool()> accepting, metrics::Metrics* metrics)
      : ledger_(ledger),
        replay_(replay),
        observe_(std::move(observe)),
        key_(std::move(key)),
        public_(key_.Public()),
        clock_(clock ? clock : &SystemClock::Get()),
        accepting_(std::move(accepting)),
        metrics_(metrics) {}

  HttpResponse Handle(const HttpRequest& req) {
    if (req.target != kForwardPath) return Plain(404, "not found");
    if (req.method != "POST") return Plain(405, "only POST");
    auto s = SplitSigned(req.body);
    if (!s) return Plain(400, "the body is not <base64 signature>\\n<JSON>");
    std::string message;
    message.append(kRequestContext).append(s->payload);
    if (!public_.Verify(message, s->signature)) return Plain(401, "not signed with the ledger's key");
    if (accepting_ && !accepting_()) return Plain(503, "stopping");
    if (Status st = CheckJsonLimits(s->payload); !st.ok()) return Plain(400, st.message());
    Json payload = Json::parse(s->payload.begin(), s->payload.end(), nullptr, false);
    // A time is a non-negative integer well within int64 (no overflow below).
    if (!payload.is_object() || !payload.contains("time") || !payload["time"].is_number_unsigned() ||
        payload["time"].get<uint64_t>() > kMaxUnixMillis || !payload.contains("entries") ||
        !payload["entries"].is_array()) {
      return Plain(400, "want {\"entries\":[...],\"origin\":ORIGIN,\"time\":<unix ms>}");
    }
    const int64_t skew_ms = UnixMillis(*clock_) - static_cast<int64_t>(payload["time"].get<uint64_t>());
    if (skew_ms > 1000 * kForwardMaxSkew.count() || skew_ms < -1000 * kForwardMaxSkew.count()) {
      return Plain(400, "the request's time is more than " + std::to_string(kForwardMaxSkew.count()) +
                            " s from this replica's clock");
    }
    // Replicas of another ledger (another store, a misconfigured lease) may
    // hold the same key: their records do not belong in this one.
    const std::string origin = ledger_->Origin();
    if (!payload.contains("origin") || !payload["origin"].is_string() || payload["origin"] != origin) {
      return Plain(409, "this replica writes the ledger " + origin + ", not the sender's");
    }
    const Json& entries = payload["entries"];
    if (entries.empty() || entries.size() > kForwardMaxEntries) {
      return Plain(400, "from 1 to " + std::to_string(kForwardMaxEntries) + " entries");
    }

    // Each entry is queued as soon as it is reserved: a second entry with
    // the same jti waits in Consume for the first one's record to settle.
    struct Outcome {
      std::mutex mu;
      std::condition_variable cv;
      size_t left;
      std::vector<Json> results;
    };
    auto outcome = std::make_shared<Outcome>();
    outcome->left = entries.size();
    outcome->results.resize(entries.size());
    auto finish = [outcome](size_t i, Json result) {
      std::lock_guard<std::mutex> l(outcome->mu);
      outcome->results[i] = std::move(result);
      if (--outcome->left == 0) outcome->cv.notify_all();
    };
    const int64_t now = clock_->NowUnix();
    for (size_t i = 0; i < entries.size(); ++i) {
      auto entry = ledger::EntryBuilder::FromJson(entries[i]);
      if (!entry.ok()) {
        finish(i, ErrorResult(entry.status()));
        continue;
      }
      auto reserved = replay_->ReserveRecorded(entry->canonical(), now);
      if (!reserved.ok()) {
        finish(i, ErrorResult(reserved.status()));
        continue;
      }
      ledger::Ledger::Guard guard;
      if (*reserved) guard = [store = replay_, r = **reserved] { return store->Recheck(r.jti, r.uid); };
      // Once durable, what the record says (an inheritance, a break-glass
      // Job) is known here as if another writer's record had been read.
      auto settle = [this, reserved = *reserved, record = entry->canonical()](bool durable) {
        if (reserved) replay_->Settle(reserved->jti, reserved->uid, policy::ReplayAction::kConsume, durable);
        if (durable && observe_) observe_(record);
      };
      ledger_->AppendEntryAsync(
          std::move(entry).value(),
          [finish, i, settle](StatusOr<ledger::Appended> r) {
            settle(r.ok());
            finish(i, r.ok() ? Json{{"seq", r->seq}, {"hash", r->hash}} : ErrorResult(r.status()));
          },
          std::move(guard));
    }
    {
      std::unique_lock<std::mutex> l(outcome->mu);
      outcome->cv.wait(l, [&] { return outcome->left == 0; });
    }
    if (metrics_) {
      size_t stored = 0;
      for (const Json& r : outcome->results) stored += r.contains("seq");
      metrics_->RecordLedgerForward("received", "stored", stored);
      metrics_->RecordLedgerForward("received", "refused", outcome->results.size() - stored);
    }
    std::string out = Json{{"results", outcome->results}}.dump();
    std::string context = std::string(kResponseContext) + s->signature_b64 + "\n";
    auto sig = SignWith(key_, context, out);
    if (!sig.ok()) return Plain(500, "cannot sign the answer: " + sig.status().message());
    HttpResponse r;
    r.content_type = kForwardContentType;
    r.body = *sig + "\n" + out;
    return r;
  }

 private:
  static Json ErrorResult(const Status& st) {
    return Json{{"error", StatusCodeName(st.code())}, {"message", st.message()}};
  }

  ledger::Ledger* ledger_;
  FileReplayStore* replay_;
  std::function<void(std::string_view)> observe_;
  crypto::PrivateKey key_;
  crypto::PublicKey public_;
  const Clock* clock_;
  std::function<bool()> accepting_;
  metrics::Metrics* metrics_;
};

// --- the forwarding side -----------------------------------------------------

struct Pending {
  ledger::Entry entry;
  ledger::AppendCallback done;
  ledger::Ledger::Guard guard;
};

class ForwardingLedger final : public ledger::Ledger {
 public:
  ForwardingLedger(ledger::Ledger* local, crypto::PrivateKey key, ForwardOptions options)
      : local_(local),
        key_(std::move(key)),
        public_(key_.Public()),
        options_(std::move(options)),
        clock_(options_.clock ? options_.clock : &SystemClock::Get()) {
    for (int i = 0; i < std::max(1, options_.senders); ++i) senders_.emplace_back([this] { Send(); });
  }
  ~ForwardingLedger() override { StopSenders(); }

  StatusOr<ledger::Appended> Append(const nlohmann::json& entry) override {
    if (!options_.forward_appends) return local_->Append(entry);
    std::promise<StatusOr<ledger::Appended>> appended;
    auto result = appended.get_future();
    AppendAsync(entry, [&appended](StatusOr<ledger::Appended> r) { appended.set_value(std::move(r)); });
    return result.get();
  }
  void AppendAsync(const nlohmann::json& entry, ledger::AppendCallback done) override {
    if (!options_.forward_appends) return local_->AppendAsync(entry, std::move(done));
    // The checks and bytes the local ledger's AppendAsync would apply.
    auto built = ledger::EntryBuilder::FromJson(entry);
    if (!built.ok()) return done(built.status());
    AppendEntryAsync(std::move(built).value(), std::move(done), nullptr);
  }
  void AppendEntryAsync(ledger::Entry entry, ledger::AppendCallback done, Guard guard) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!stopping_ && !options_.writer().empty()) {
        queue_.push_back(Pending{std::move(entry), std::move(done), std::move(guard)});
        cv_.notify_one();
        return;
      }
    }
    local_->AppendEntryAsync(std::move(entry), std::move(done), std::move(guard));
  }
  Status CatchUp() override { return local_->CatchUp(); }
  void Announce() override { local_->Announce(); }
  void Retire() override { local_->Retire(); }
  StatusOr<bool> Contains(const std::string& ref) override { return local_->Contains(ref); }
  StatusOr<uint64_t> Size() override { return local_->Size(); }
  std::string Origin() const override { return local_->Origin(); }
  Status Checkpoint() override { return local_->Checkpoint(); }
  Status Close() override {
    StopSenders();  // what was queued is forwarded or appended here first
    return local_->Close();
  }

 private:
  void StopSenders() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_ && senders_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : senders_) t.join();
    senders_.clear();
  }

  void Send() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      std::vector<Pending> batch;
      while (!queue_.empty() && batch.size() < kForwardMaxEntries) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      l.unlock();
      Forward(batch);
      l.lock();
    }
  }

  // Sends `batch` to the writer and answers each record from the result;
  // what gets no result is appended locally.
  void Forward(std::vector<Pending>& batch) {
    std::string url = options_.writer();
    std::vector<std::optional<StatusOr<ledger::Appended>>> results(batch.size());
    if (!url.empty() && !BackingOff(url)) {
      Status st = Exchange(url, batch, &results);
      if (!st.ok()) {
        log::Warn("ledger forward: the writer replica did not answer; appending here",
                  {{"writer", url}, {"records", batch.size()}, {"error", st.message()}});
        BackOff(url);
      }
    }
    if (options_.metrics) {
      size_t stored = 0, refused = 0;
      for (const auto& r : results) {
        if (r) ++(r->ok() ? stored : refused);
      }
      options_.metrics->RecordLedgerForward("sent", "stored", stored);
      options_.metrics->RecordLedgerForward("sent", "refused", refused);
      options_.metrics->RecordLedgerForward("sent", "local", batch.size() - stored - refused);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results[i]) {
        batch[i].done(std::move(*results[i]));
      } else {
        local_->AppendEntryAsync(std::move(batch[i].entry), std::move(batch[i].done), std::move(batch[i].guard));
      }
    }
  }

  Status Exchange(const std::string& url, const std::vector<Pending>& batch,
                  std::vector<std::optional<StatusOr<ledger::Appended>>>* results) {
    std::string payload = "{\"entries\":[";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i) payload += ',';
      payload += batch[i].entry.canonical();
    }
    payload += "],\"origin\":" + Json(local_->Origin()).dump() + ",\"time\":" + std::to_string(UnixMillis(*clock_)) + "}";
    EXECGOV_ASSIGN_OR_RETURN(std::string sig, SignWith(key_, kRequestContext, payload));
    EXECGOV_ASSIGN_OR_RETURN(kube::HttpClient * client, ClientFor(url));
    EXECGOV_ASSIGN_OR_RETURN(kube::HttpResponse resp,
                             client->Request("POST", kForwardPath, sig + "\n" + payload, kForwardContentType));
    if (resp.status != 200) {
      return Unavailable("HTTP " + std::to_string(resp.status) + ": " + resp.body.substr(0, 200));
    }
    auto s = SplitSigned(resp.body);
    if (!s) return DataLoss("the answer is not <base64 signature>\\n<JSON>");
    std::string message = std::string(kResponseContext) + sig + "\n" + std::string(s->payload);
    if (!public_.Verify(message, s->signature)) {
      return DataLoss("the answer is not signed with the ledger's key for this request");
    }
    EXECGOV_RETURN_IF_ERROR(CheckJsonLimits(s->payload));
    Json answer = Json::parse(s->payload.begin(), s->payload.end(), nullptr, false);
    if (!answer.is_object() || !answer.contains("results") || !answer["results"].is_array() ||
        answer["results"].size() != batch.size()) {
      return DataLoss("the answer does not hold one result per record");
    }
    // Checked whole before any is used: a half-read answer appends nothing twice.
    std::vector<StatusOr<ledger::Appended>> parsed;
    for (const Json& r : answer["results"]) {
      if (r.is_object() && r.contains("seq") && r["seq"].is_number_unsigned() && r.contains("hash") &&
          r["hash"].is_string()) {
        parsed.push_back(ledger::Appended{r["seq"].get<uint64_t>(), r["hash"].get<std::string>()});
      } else if (r.is_object() && r.contains("error") && r["error"].is_string() && r.contains("message") &&
                 r["message"].is_string()) {
        const std::string message = r["message"].get<std::string>();
        // A replay keeps its code (the handler records it as one); anything
        // else the writer could not store is an error here too.
        parsed.push_back(r["error"] == StatusCodeName(StatusCode::kAlreadyExists)
                             ? AlreadyExists(message)
                             : Unavailable("the ledger writer replica: " + message));
      } else {
        return DataLoss("a result is neither {seq, hash} nor {error, message}");
      }
    }
    for (size_t i = 0; i < parsed.size(); ++i) (*results)[i] = std::move(parsed[i]);
    return Status::Ok();
  }

  StatusOr<kube::HttpClient*> ClientFor(const std::string& url) {
    std::lock_guard<std::mutex> l(clients_mu_);
    auto it = clients_.find(url);
    if (it != clients_.end()) return it->second.get();
    if (clients_.size() >= 8) clients_.clear();  // writers come and go; keep a few
    kube::HttpConfig config;
    config.base_url = url;
    // Trust comes from the signatures (see the header): the serving
    // certificate names the Service, not this Pod's address.
    config.insecure_skip_verify = true;
    config.timeout = options_.timeout;
    EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewHttpClient(config));
    return (clients_[url] = std::move(client)).get();
  }

  bool BackingOff(const std::string& url) {
    std::lock_guard<std::mutex> l(clients_mu_);
    auto it = backoff_until_.find(url);
    return it != backoff_until_.end() && clock_->Now() < it->second;
  }
  void BackOff(const std::string& url) {
    std::lock_guard<std::mutex> l(clients_mu_);
    if (backoff_until_.size() >= 8) backoff_until_.clear();
    backoff_until_[url] = clock_->Now() + options_.backoff;
  }

  ledger::Ledger* local_;
  crypto::PrivateKey key_;
  crypto::PublicKey public_;
  ForwardOptions options_;
  const Clock* clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::vector<std::thread> senders_;

  std::mutex clients_mu_;
  std::map<std::string, std::unique_ptr<kube::HttpClient>> clients_;
  std::map<std::string, std::chrono::system_clock::time_point> backoff_until_;
};

}  // namespace

HttpServer::Handler NewForwardHandler(ledger::Ledger* ledger, FileReplayStore* replay,
                                      std::function<void(std::string_view record)> observe, crypto::PrivateKey key,
                                      const Clock* clock, std::function<bool()> accepting,
                                      metrics::Metrics* metrics) {
  auto handler = std::make_shared<ForwardHandler>(ledger, replay, std::move(observe), std::move(key), clock,
                                                  std::move(accepting), metrics);
  return [handler](const HttpRequest& req) { return handler->Handle(req); };
}

std::unique_ptr<ledger::Ledger> NewForwardingLedger(ledger::Ledger* local, crypto::PrivateKey key,
                                                    ForwardOptions options) {
  return std::make_unique<ForwardingLedger>(local, std::move(key), std::move(options));
}

std::string WriterUrlOf(const std::string& holder, const std::string& self) {
  if (holder.empty() || holder == self || holder.rfind("https://", 0) != 0) return "";
  return holder.substr(0, holder.find('#'));
}

}  // namespace execgov::webhook
