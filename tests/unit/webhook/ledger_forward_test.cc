// The writer's side of ledger forwarding (webhook/ledger_forward.h), called
// directly with the requests a hostile or broken peer could send: nothing is
// stored unless the request is signed with the ledger key, fresh, and
// well-formed, and each entry is judged as the replica's own would be.
#include "webhook/ledger_forward.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "crypto/encoding.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "tls/credentials.h"
#include "tls/self_signed.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

class LedgerForwardHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-forward-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ledger::LedgerOptions o;
    o.clock = &clock_;
    auto l = ledger::OpenLedger("file:" + dir_ + "/ledger.jsonl", o);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
    auto key = ledger::LoadOrCreateKey("file:" + dir_ + "/ledger.jsonl", "");
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<crypto::PrivateKey>(*key);
    handler_ = NewForwardHandler(
        ledger_.get(), store_.get(), [this](std::string_view) { ++observed_; }, *key_, &clock_, nullptr);
  }
  void TearDown() override {
    if (ledger_) (void)ledger_->Close();
    std::filesystem::remove_all(dir_);
  }

  static std::string Consume(const std::string& jti, const std::string& uid, int64_t exp) {
    return Json{{"type", "admission"},
                {"decision", "allowed"},
                {"object", {{"kind", "Pod"}, {"namespace", "team-a"}, {"name", "pod-" + uid}, {"uid", uid}}},
                {"artifact", {{"jti", jti}}},
                {"replay", {{"op", "consume"}, {"exp", exp}}}}
        .dump();
  }
  std::string Payload(const std::vector<std::string>& entries, int64_t time_ms, std::string origin = "") {
    std::string p = "{\"entries\":[";
    for (size_t i = 0; i < entries.size(); ++i) p += (i ? "," : "") + entries[i];
    if (origin.empty()) origin = ledger_->Origin();
    return p + "],\"origin\":" + Json(origin).dump() + ",\"time\":" + std::to_string(time_ms) + "}";
  }
  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count();
  }
  HttpResponse Post(const std::string& payload, const crypto::PrivateKey* key = nullptr) {
    auto sig = (key ? key : key_.get())->Sign("execgov ledger forward request v1\n" + payload);
    EXPECT_TRUE(sig.ok());
    return Raw(crypto::Base64Encode(*sig) + "\n" + payload);
  }
  HttpResponse Raw(const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    req.target = kForwardPath;
    req.content_type = kForwardContentType;
    req.body = body;
    return handler_(req);
  }
  // The results of a 200 answer, after checking its signature binds it to
  // the request.
  Json Results(const HttpResponse& r, const std::string& payload) {
    EXPECT_EQ(r.status, 200) << r.body;
    size_t nl = r.body.find('\n');
    auto sig = crypto::Base64Decode(r.body.substr(0, nl));
    EXPECT_TRUE(sig.has_value());
    auto request_sig = key_->Sign("execgov ledger forward request v1\n" + payload);
    std::string out = r.body.substr(nl + 1);
    EXPECT_TRUE(key_->Public().Verify(
        "execgov ledger forward response v1\n" + crypto::Base64Encode(*request_sig) + "\n" + out, *sig));
    return Json::parse(out)["results"];
  }

  FakeClock clock_{1800000000};
  std::string dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<FileReplayStore> store_ = FileReplayStore::ForSharedLedger();
  std::unique_ptr<crypto::PrivateKey> key_;
  HttpServer::Handler handler_;
  int observed_ = 0;
};

TEST_F(LedgerForwardHandlerTest, StoresSignedEntriesAndAnswersEachInOrder) {
  const int64_t exp = clock_.NowUnix() + 600;
  std::string payload = Payload({Consume("jti-1", "u1", exp), Consume("jti-2", "u2", exp)}, NowMs());
  Json results = Results(Post(payload), payload);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["seq"], 0);
  EXPECT_EQ(results[1]["seq"], 1);
  EXPECT_EQ(observed_, 2);
  // The consumptions are this replica's now: its own admissions find them.
  ASSERT_TRUE(store_->Find("jti-1", "").has_value());
  EXPECT_EQ(store_->Find("jti-1", "")->uid, "u1");
  EXPECT_EQ(ledger_->Size().value(), 2u);
}

TEST_F(LedgerForwardHandlerTest, ARecordConsumingAJtiAnotherObjectConsumedIsRefusedAsAReplay) {
  const int64_t exp = clock_.NowUnix() + 600;
  ASSERT_TRUE(store_->Consume("jti-1", {"Pod", "team-a", "first", "u0"}, exp).ok());
  store_->Settle("jti-1", "u0", policy::ReplayAction::kConsume, true);
  // And two entries of one request racing for one jti: the first wins.
  std::string payload =
      Payload({Consume("jti-1", "u1", exp), Consume("jti-2", "u2", exp), Consume("jti-2", "u3", exp)}, NowMs());
  Json results = Results(Post(payload), payload);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["error"], "AlreadyExists") << results[0];
  EXPECT_TRUE(results[1].contains("seq")) << results[1];
  EXPECT_EQ(results[2]["error"], "AlreadyExists") << results[2];
  EXPECT_EQ(ledger_->Size().value(), 1u);
}

TEST_F(LedgerForwardHandlerTest, RefusesWhatIsNotSignedWithTheLedgerKeyUnread) {
  std::string payload = Payload({Consume("jti-1", "u1", clock_.NowUnix() + 600)}, NowMs());
  auto other = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  EXPECT_EQ(Post(payload, &other).status, 401);
  EXPECT_EQ(Raw(payload).status, 400);                   // no signature line
  EXPECT_EQ(Raw("!!!!\n" + payload).status, 400);        // not base64
  EXPECT_EQ(Raw(std::string(200, 'A') + "\n").status, 400);  // a "signature" longer than any
  // Signed for one payload, sent with another.
  auto sig = key_->Sign("execgov ledger forward request v1\n" + payload);
  EXPECT_EQ(Raw(crypto::Base64Encode(*sig) + "\n" + payload + " ").status, 401);
  EXPECT_EQ(ledger_->Size().value(), 0u);
}

TEST_F(LedgerForwardHandlerTest, RefusesStaleOversizedAndMalformedRequests) {
  const int64_t exp = clock_.NowUnix() + 600;
  std::string entry = Consume("jti-1", "u1", exp);
  // Outside the allowed skew either way.
  EXPECT_EQ(Post(Payload({entry}, NowMs() - 61'000)).status, 400);
  EXPECT_EQ(Post(Payload({entry}, NowMs() + 61'000)).status, 400);
  // For another ledger, or for none named.
  EXPECT_EQ(Post(Payload({entry}, NowMs(), "example.com/other-ledger")).status, 409);
  EXPECT_EQ(Post("{\"entries\":[" + entry + "],\"time\":" + std::to_string(NowMs()) + "}").status, 409);
  // Too many entries, or none.
  EXPECT_EQ(Post(Payload(std::vector<std::string>(kForwardMaxEntries + 1, entry), NowMs())).status, 400);
  EXPECT_EQ(Post(Payload({}, NowMs())).status, 400);
  // Not the shape asked for.
  EXPECT_EQ(Post("[]").status, 400);
  EXPECT_EQ(Post("{\"entries\":{},\"time\":1}").status, 400);
  EXPECT_EQ(Post("{\"entries\":[" + entry + "],\"time\":\"now\"}").status, 400);
  EXPECT_EQ(Post("{\"entries\":[" + entry + "],\"time\":-9223372036854775808}").status, 400);
  EXPECT_EQ(Post("{\"entries\":[" + entry + "],\"time\":18446744073709551615}").status, 400);
  // Nested deeper than any parser here takes.
  EXPECT_EQ(Post("{\"entries\":[" + std::string(100000, '[') + "],\"time\":1}").status, 400);
  // Wrong path or method.
  HttpRequest get;
  get.method = "GET";
  get.target = kForwardPath;
  EXPECT_EQ(handler_(get).status, 405);
  get.target = "/other";
  EXPECT_EQ(handler_(get).status, 404);
  EXPECT_EQ(ledger_->Size().value(), 0u);
}

TEST_F(LedgerForwardHandlerTest, AnEntryTheLedgerWouldNotTakeFromItsOwnIsRefusedAlone) {
  // seq/prev/time are the ledger's; a checkpoint is only ever its own; an
  // entry must be an object. Each is refused, and the good one is stored.
  std::string good = Consume("jti-1", "u1", clock_.NowUnix() + 600);
  std::string payload = Payload({R"({"seq":5,"type":"admission"})", R"({"type":"checkpoint"})", "\"text\"", good},
                                NowMs());
  Json results = Results(Post(payload), payload);
  ASSERT_EQ(results.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results[i]["error"], "InvalidArgument") << results[i];
  EXPECT_TRUE(results[3].contains("seq")) << results[3];
  EXPECT_EQ(ledger_->Size().value(), 1u);
}

// Both sides over real TLS on loopback, two writers sharing one file ledger
// (as replicas share a ConfigMap one): what the forwarding replica sends is
// stored by the writer, a race between them on one jti admits one, and when
// the writer stops the forwarding replica appends itself.
class ForwardingLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-forwarding-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    url_ = "file:" + dir_ + "/ledger.jsonl";
    auto key = ledger::LoadOrCreateKey(url_, "");
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<crypto::PrivateKey>(*key);
    for (Side* side : {&a_, &b_}) {
      ledger::LedgerOptions o;
      o.observe = [store = side->store.get()](uint64_t, std::string_view record) {
        store->Observe(record, SystemClock::Get().NowUnix());
      };
      auto l = ledger::OpenLedger(url_, o);
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      side->local = std::move(l).value();
    }
    auto files = tls::EnsureSelfSignedCertificates(dir_ + "/tls", {"127.0.0.1"});
    ASSERT_TRUE(files.ok());
    auto creds = tls::CredentialStore::Open({files->cert, files->key, ""});
    ASSERT_TRUE(creds.ok());
    credentials_ = std::move(creds).value();
    auto server = HttpServer::Start(
        "127.0.0.1:0", credentials_.get(),
        NewForwardHandler(
            a_.local.get(), a_.store.get(),
            [store = a_.store.get()](std::string_view r) { store->Observe(r, SystemClock::Get().NowUnix()); }, *key_,
            nullptr, nullptr, &metrics_),
        2, kMaxBodyBytes);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    ForwardOptions fo;
    fo.writer = [url = "https://127.0.0.1:" + std::to_string(server_->port())] { return url; };
    fo.metrics = &metrics_;
    forwarding_ = NewForwardingLedger(b_.local.get(), *key_, fo);
  }
  void TearDown() override {
    server_.reset();
    if (forwarding_) (void)forwarding_->Close();
    if (a_.local) (void)a_.local->Close();
    std::filesystem::remove_all(dir_);
  }

  struct Side {
    std::unique_ptr<FileReplayStore> store = FileReplayStore::ForSharedLedger();
    std::unique_ptr<ledger::Ledger> local;
  };
  // Reserve, append with the guard, settle: what the admission handler does.
  static bool Admit(FileReplayStore* store, ledger::Ledger* ledger, const std::string& jti, const std::string& uid) {
    const int64_t exp = SystemClock::Get().NowUnix() + 600;
    if (!store->Consume(jti, {"Pod", "team-a", "pod-" + uid, uid}, exp).ok()) return false;
    auto entry = ledger::EntryBuilder::FromJson(Json::parse(LedgerForwardHandlerTest_Consume(jti, uid, exp)));
    EXPECT_TRUE(entry.ok());
    std::promise<StatusOr<ledger::Appended>> done;
    ledger->AppendEntryAsync(std::move(entry).value(),
                             [&done](StatusOr<ledger::Appended> r) { done.set_value(std::move(r)); },
                             [store, jti, uid] { return store->Recheck(jti, uid); });
    auto r = done.get_future().get();
    store->Settle(jti, uid, policy::ReplayAction::kConsume, r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
    }
    return r.ok();
  }
  static std::string LedgerForwardHandlerTest_Consume(const std::string& jti, const std::string& uid, int64_t exp) {
    return Json{{"type", "admission"},
                {"object", {{"kind", "Pod"}, {"namespace", "team-a"}, {"name", "pod-" + uid}, {"uid", uid}}},
                {"artifact", {{"jti", jti}}},
                {"replay", {{"op", "consume"}, {"exp", exp}}}}
        .dump();
  }
  double Forwarded(const std::string& role, const std::string& result) {
    std::string text = metrics_.Serialize();
    std::string line = "execgov_ledger_forward_records_total{result=\"" + result + "\",role=\"" + role + "\"} ";
    size_t at = text.find(line);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + line.size()));
  }

  std::string dir_, url_;
  std::unique_ptr<crypto::PrivateKey> key_;
  Side a_, b_;
  metrics::Metrics metrics_;
  std::unique_ptr<tls::CredentialStore> credentials_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<ledger::Ledger> forwarding_;
};

TEST_F(ForwardingLedgerTest, RacingReplicasAdmitEachJtiOnceAndTheWriterStoresBoth) {
  constexpr int kJtis = 300, kThreads = 4;
  std::vector<std::atomic<int>> admitted(kJtis);
  std::vector<std::thread> threads;
  for (int side = 0; side < 2; ++side) {
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, side, t] {
        for (int j = t; j < kJtis; j += kThreads) {
          bool ok = side == 0 ? Admit(a_.store.get(), a_.local.get(), "jti-" + std::to_string(j), "a-" + std::to_string(j))
                              : Admit(b_.store.get(), forwarding_.get(), "jti-" + std::to_string(j),
                                      "b-" + std::to_string(j));
          if (ok) ++admitted[j];
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  for (int j = 0; j < kJtis; ++j) EXPECT_EQ(admitted[j].load(), 1) << "jti-" << j;
  EXPECT_EQ(Forwarded("sent", "stored") + Forwarded("sent", "refused"), kJtis) << metrics_.Serialize();
  EXPECT_EQ(Forwarded("sent", "local"), 0);
  EXPECT_EQ(Forwarded("received", "stored"), Forwarded("sent", "stored"));
  EXPECT_EQ(a_.local->Size().value(), static_cast<uint64_t>(kJtis));
}

TEST_F(ForwardingLedgerTest, WhenTheWriterStopsTheReplicaAppendsItself) {
  ASSERT_TRUE(Admit(b_.store.get(), forwarding_.get(), "jti-1", "b-1"));
  EXPECT_EQ(Forwarded("sent", "stored"), 1);
  server_.reset();
  ASSERT_TRUE(Admit(b_.store.get(), forwarding_.get(), "jti-2", "b-2"));
  EXPECT_EQ(Forwarded("sent", "local"), 1);
  // Still one consumption each, and a replay through b is refused.
  EXPECT_FALSE(Admit(b_.store.get(), forwarding_.get(), "jti-1", "b-other"));
  ASSERT_TRUE(forwarding_->Close().ok());
  auto backend = ledger::OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  std::map<std::string, int> consumed;
  ASSERT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view record) {
    auto j = Json::parse(record);
    if (j.contains("replay")) ++consumed[j["artifact"]["jti"]];
    return Status::Ok();
  }).ok());
  EXPECT_EQ(consumed.size(), 2u);
  EXPECT_EQ(consumed["jti-1"], 1);
  EXPECT_EQ(consumed["jti-2"], 1);
}

TEST_F(ForwardingLedgerTest, AWriterThatTakesTheRequestAndNeverAnswersIsNotWaitedFor) {
  // Hung, not down: the writer reads the request and never answers.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  auto hung = HttpServer::Start(
      "127.0.0.1:0", credentials_.get(),
      [&](const HttpRequest&) {
        std::unique_lock l(mu);
        cv.wait(l, [&] { return release; });
        return HttpResponse{};
      },
      2, kMaxBodyBytes);
  ASSERT_TRUE(hung.ok());
  ForwardOptions fo;
  fo.writer = [url = "https://127.0.0.1:" + std::to_string((*hung)->port())] { return url; };
  fo.timeout = std::chrono::milliseconds(300);
  fo.metrics = &metrics_;
  auto forwarding = NewForwardingLedger(b_.local.get(), *key_, fo);
  // Admitted and recorded here while the writer still holds the request.
  EXPECT_TRUE(Admit(b_.store.get(), forwarding.get(), "jti-hung", "b-hung"));
  EXPECT_EQ(Forwarded("sent", "local"), 1);
  EXPECT_EQ(Forwarded("sent", "stored"), 0);
  {
    std::lock_guard l(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(forwarding->Close().ok());
  hung->reset();
}

TEST(ForwardOptionsTest, AForwardRequestGivesUpWellInsideTheWebhookTimeout) {
  // The chart's timeoutSeconds is 5: a replica needs the rest to append
  // the record itself.
  EXPECT_LE(ForwardOptions{}.timeout, std::chrono::milliseconds(2500));
}

TEST_F(ForwardingLedgerTest, WithForwardAppendsTheOperatorsRecordsGoToTheWriter) {
  // The operator's ledger: every append goes to the writer, which answers
  // its seq and hash (RecordStep chains the next step to that hash).
  ForwardOptions fo;
  fo.writer = [url = "https://127.0.0.1:" + std::to_string(server_->port())] { return url; };
  fo.forward_appends = true;
  fo.metrics = &metrics_;
  auto operator_ledger = NewForwardingLedger(b_.local.get(), *key_, fo);
  Json step = {{"type", "execution"}, {"phase", "JobCreated"}, {"object", {{"kind", "ExecutionRequest"}, {"uid", "r-1"}}}};
  auto appended = operator_ledger->Append(step);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(Forwarded("sent", "stored"), 1);
  EXPECT_EQ(Forwarded("received", "stored"), 1);
  // What the writer stored is that entry, at that seq, with that hash.
  auto backend = ledger::OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  std::string stored;
  ASSERT_TRUE((*backend)->Scan(appended->seq, appended->seq + 1, [&](uint64_t, std::string_view r) {
    stored = std::string(r);
    return Status::Ok();
  }).ok());
  auto has = a_.local->Contains(appended->hash);
  ASSERT_TRUE(has.ok()) << has.status().ToString();
  EXPECT_TRUE(*has) << "the writer's ledger has no record with the hash it answered";
  EXPECT_EQ(Json::parse(stored)["phase"], "JobCreated");
  // An entry the ledger would refuse is refused here, and nothing is sent.
  auto bad = operator_ledger->Append(Json{{"type", "checkpoint"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
  EXPECT_EQ(Forwarded("sent", "stored") + Forwarded("sent", "refused") + Forwarded("sent", "local"), 1);
  // Without forward_appends (the webhook's), a synchronous append stays local.
  ASSERT_TRUE(forwarding_->Append(step).ok());
  EXPECT_EQ(Forwarded("sent", "stored"), 1);
  // With the writer gone, the operator's record is appended where it is.
  server_.reset();
  auto local = operator_ledger->Append(step);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(Forwarded("sent", "local"), 1);
  ASSERT_TRUE(operator_ledger->Close().ok());
}

TEST(WriterUrlTest, TheHoldersAddressWithoutItsIdentity) {
  EXPECT_EQ(WriterUrlOf("https://10.0.0.7:8444#webhook-0_1a2b"), "https://10.0.0.7:8444");
  EXPECT_EQ(WriterUrlOf("https://[fd00::7]:8444#webhook-0_1a2b"), "https://[fd00::7]:8444");
  EXPECT_EQ(WriterUrlOf("https://10.0.0.7:8444#me", "https://10.0.0.7:8444#me"), "") << "this replica writes";
  EXPECT_EQ(WriterUrlOf(""), "") << "nobody holds the Lease";
  EXPECT_EQ(WriterUrlOf("operator-0_1a2b"), "") << "a holder that takes no records";
  EXPECT_EQ(WriterUrlOf("http://10.0.0.7:8444#x"), "") << "only over TLS";
}

}  // namespace
}  // namespace execgov::webhook
