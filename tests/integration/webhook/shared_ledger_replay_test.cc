// Replay state carried by the ledger that webhook replicas share (the
// in-cluster webhook since ConfigMap ledger layout 2), against the real API
// server of the control-plane fixture: each replica is a FileReplayStore fed
// by its own ledger writer's observer, exactly as `execgov webhook` wires
// them, and consumes through the decision record's guard.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "../kube/cluster_env.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "tls/credentials.h"
#include "tls/self_signed.h"
#include "crypto/encoding.h"
#include "webhook/ledger_forward.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {
namespace {

namespace testenv = kube::testenv;

struct Replica {
  std::unique_ptr<FileReplayStore> store;
  std::unique_ptr<ledger::Ledger> local;   // set when `ledger` forwards to another replica
  std::unique_ptr<ledger::Ledger> ledger;  // what admissions append to
};

class SharedLedgerReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = testenv::Connect();
    ASSERT_NE(client_, nullptr);
    ns_ = testenv::UniqueName("sr").substr(0, 40);
    ASSERT_TRUE(testenv::CreateNamespace(*client_, ns_).ok());
    char tmpl[] = "/tmp/execgov-replay-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/ledger.key", key_.ToPkcs8Pem(), 0600).ok());
    url_ = "configmap://" + ns_ + "/decisions?kubeconfig=" + std::getenv("EXECGOV_TESTENV_DIR") + "/kubeconfig";
  }
  void TearDown() override {
    if (client_) (void)client_->Delete("/api/v1/namespaces/" + ns_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Replica Open() {
    Replica r;
    r.store = FileReplayStore::ForSharedLedger();
    ledger::LedgerOptions o;
    o.signing_key_path = dir_ + "/ledger.key";
    o.linger = std::chrono::microseconds(2000);
    o.observe = [store = r.store.get()](uint64_t, std::string_view record) {
      store->Observe(record, SystemClock::Get().NowUnix());
    };
    auto l = ledger::OpenLedger(url_, o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    if (!l.ok()) return r;
    r.ledger = std::move(l).value();
    EXPECT_TRUE(r.ledger->CatchUp().ok());
    r.store->SetCatchUp([l = r.ledger.get()] { return l->CatchUp(); });
    return r;
  }

  static policy::Consumption Who(const std::string& uid) { return {"Pod", "team-a", "pod-" + uid, uid}; }

  // What the admission handler does for a direct artifact: reserve, record
  // with the guard, settle. Whether the object was admitted.
  // How many admissions the guard refused: a reservation both replicas held
  // at once, settled by the ledger.
  static inline std::atomic<int> guard_refusals{0};

  static bool Admit(Replica& r, const std::string& jti, const std::string& uid, policy::ReplayAction action) {
    const int64_t exp = SystemClock::Get().NowUnix() + 600;
    Status reserved = action == policy::ReplayAction::kConsume ? r.store->Consume(jti, Who(uid), exp)
                                                               : r.store->Inherit(jti, uid);
    if (!reserved.ok()) return false;
    ledger::EntryBuilder replay;
    replay.Str("op", action == policy::ReplayAction::kConsume ? "consume" : "inherit");
    if (action == policy::ReplayAction::kConsume) replay.Int("exp", exp);
    ledger::EntryBuilder builder;
    builder.Str("type", "admission")
                     .Str("decision", "allowed")
                     .Obj("object", std::move(ledger::EntryBuilder()
                                                  .Str("kind", "Pod")
                                                  .Str("namespace", "team-a")
                                                  .Str("name", "pod-" + uid)
                                                  .Str("uid", uid)))
                     .Obj("artifact", std::move(ledger::EntryBuilder().Str("jti", jti)))
                     .Obj("replay", std::move(replay));
    auto entry = std::move(builder).Build();
    EXPECT_TRUE(entry.ok());
    ledger::Ledger::Guard guard;
    if (action == policy::ReplayAction::kConsume) {
      guard = [store = r.store.get(), jti, uid] { return store->Recheck(jti, uid); };
    }
    std::promise<StatusOr<ledger::Appended>> done;
    r.ledger->AppendEntryAsync(std::move(entry).value(),
                               [&done](StatusOr<ledger::Appended> a) { done.set_value(std::move(a)); },
                               std::move(guard));
    auto appended = done.get_future().get();
    r.store->Settle(jti, uid, action, appended.ok());
    if (!appended.ok()) {
      EXPECT_EQ(appended.status().code(), StatusCode::kAlreadyExists) << appended.status().ToString();
      ++guard_refusals;
    }
    return appended.ok();
  }

  // Eight threads on each replica admit an object of their own for every
  // one of `jtis` jtis at once; how many objects each jti admitted.
  static std::vector<int> Race(Replica& a, Replica& b, int jtis) {
    constexpr int kThreads = 8;
    std::vector<std::atomic<int>> admitted(jtis);
    std::vector<std::thread> threads;
    for (int replica = 0; replica < 2; ++replica) {
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, replica, t] {
          Replica& r = replica == 0 ? a : b;
          for (int j = t; j < jtis; j += kThreads) {
            std::string uid = (replica == 0 ? "a-" : "b-") + std::to_string(j);
            if (Admit(r, "jti-" + std::to_string(j), uid, policy::ReplayAction::kConsume)) ++admitted[j];
          }
        });
      }
    }
    for (auto& t : threads) t.join();
    return std::vector<int>(admitted.begin(), admitted.end());
  }

  std::unique_ptr<kube::Client> client_;
  std::string ns_, dir_, url_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};

TEST_F(SharedLedgerReplayTest, TwoReplicasRacingOnEachOf2000JtisAdmitExactlyOne) {
  Replica a = Open(), b = Open();
  ASSERT_TRUE(a.ledger && b.ledger);
  constexpr int kJtis = 2000;
  std::vector<int> admitted = Race(a, b, kJtis);
  int once = 0;
  for (int j = 0; j < kJtis; ++j) {
    EXPECT_EQ(admitted[j], 1) << "jti-" << j;
    once += admitted[j] == 1;
  }
  EXPECT_EQ(once, kJtis);
  // Both ways of losing were taken: finding the other's record before
  // reserving, and (what only the guard catches) both reserving at once.
  std::cout << "guard refusals: " << guard_refusals << " of " << kJtis << " races\n";
  EXPECT_GT(guard_refusals.load(), 0) << "the replicas never reserved one jti at the same time";
  ASSERT_TRUE(a.ledger->Close().ok());
  ASSERT_TRUE(b.ledger->Close().ok());

  // The ledger holds one consumption per jti, and a replica started now
  // knows every one of them.
  auto backend = ledger::OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  std::map<std::string, int> consumptions;
  ASSERT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view record) {
    auto j = nlohmann::json::parse(record);
    if (j.contains("replay")) ++consumptions[j["artifact"]["jti"]];
    return Status::Ok();
  }).ok());
  EXPECT_EQ(consumptions.size(), static_cast<size_t>(kJtis));
  for (const auto& [jti, n] : consumptions) EXPECT_EQ(n, 1) << jti;
  Replica fresh = Open();
  ASSERT_TRUE(fresh.ledger);
  for (int j = 0; j < kJtis; j += 97) {
    auto c = fresh.store->Find("jti-" + std::to_string(j), "");
    ASSERT_TRUE(c.has_value()) << j;
    EXPECT_FALSE(Admit(fresh, "jti-" + std::to_string(j), "c-" + std::to_string(j), policy::ReplayAction::kConsume));
  }
  ASSERT_TRUE(fresh.ledger->Close().ok());
}

// One writer for the tail (webhook/ledger_forward.h): replica b forwards
// every record to replica a over TLS, as `execgov webhook
// --ledger-forward-listen` wires it, and the race is judged by a's store.
class ForwardingReplicasTest : public SharedLedgerReplayTest {
 protected:
  void SetUp() override {
    SharedLedgerReplayTest::SetUp();
    auto files = tls::EnsureSelfSignedCertificates(dir_ + "/tls", {"127.0.0.1"});
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto creds = tls::CredentialStore::Open({files->cert, files->key, ""});
    ASSERT_TRUE(creds.ok()) << creds.status().ToString();
    credentials_ = std::move(creds).value();
  }

  // Serves `writer`'s forward handler, signing with `key`; counts requests.
  std::unique_ptr<HttpServer> Serve(Replica& writer, const crypto::PrivateKey& key) {
    auto handler = NewForwardHandler(
        writer.ledger.get(), writer.store.get(),
        [store = writer.store.get()](std::string_view record) { store->Observe(record, SystemClock::Get().NowUnix()); },
        key, nullptr, nullptr);
    auto server = HttpServer::Start(
        "127.0.0.1:0", credentials_.get(),
        [this, handler](const HttpRequest& req) {
          ++forwarded_requests_;
          return handler(req);
        },
        2, kMaxBodyBytes);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  // Replica b: its own ledger and store, forwarding to `url`.
  Replica OpenForwarding(const std::string& url) {
    Replica r = Open();
    if (!r.ledger) return r;
    r.local = std::move(r.ledger);
    ForwardOptions o;
    o.writer = [url] { return url; };
    r.ledger = NewForwardingLedger(r.local.get(), key_, o);
    return r;
  }

  // Records stored, by the object uid's prefix ("a-", "b-").
  std::map<std::string, int> StoredConsumptions() {
    std::map<std::string, int> out;
    auto backend = ledger::OpenBackend(url_, {.read_only = true});
    EXPECT_TRUE(backend.ok());
    if (!backend.ok()) return out;
    EXPECT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view record) {
      auto j = nlohmann::json::parse(record);
      if (j.contains("replay")) ++out[j["artifact"]["jti"]];
      return Status::Ok();
    }).ok());
    return out;
  }

  std::unique_ptr<tls::CredentialStore> credentials_;
  std::atomic<int> forwarded_requests_{0};
};

TEST_F(ForwardingReplicasTest, RacingOnEachOf2000JtisThroughOneWriterAdmitsExactlyOne) {
  Replica a = Open();
  ASSERT_TRUE(a.ledger);
  auto server = Serve(a, key_);
  ASSERT_NE(server, nullptr);
  Replica b = OpenForwarding("https://127.0.0.1:" + std::to_string(server->port()));
  ASSERT_TRUE(b.ledger);
  constexpr int kJtis = 2000;
  std::vector<int> admitted = Race(a, b, kJtis);
  for (int j = 0; j < kJtis; ++j) EXPECT_EQ(admitted[j], 1) << "jti-" << j;
  // b's records went to a: in batches, so in fewer requests than records.
  std::cout << "forward requests: " << forwarded_requests_ << " for " << kJtis << " records from b\n";
  EXPECT_GT(forwarded_requests_.load(), 0);
  ASSERT_TRUE(b.ledger->Close().ok());
  ASSERT_TRUE(a.ledger->Close().ok());
  auto stored = StoredConsumptions();
  EXPECT_EQ(stored.size(), static_cast<size_t>(kJtis));
  for (const auto& [jti, n] : stored) EXPECT_EQ(n, 1) << jti;
}

TEST_F(ForwardingReplicasTest, ARequestNotSignedWithTheLedgerKeyIsRefused) {
  Replica a = Open();
  ASSERT_TRUE(a.ledger);
  // a holds another ledger key than b: it refuses b's requests unread
  // (401), and b appends its records itself, then skips that writer.
  auto other_key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto server = Serve(a, other_key);
  ASSERT_NE(server, nullptr);
  Replica b = OpenForwarding("https://127.0.0.1:" + std::to_string(server->port()));
  ASSERT_TRUE(b.ledger);
  ASSERT_TRUE(Admit(b, "jti-1", "b-1", policy::ReplayAction::kConsume));
  EXPECT_EQ(forwarded_requests_.load(), 1);
  ASSERT_TRUE(Admit(b, "jti-2", "b-2", policy::ReplayAction::kConsume));
  EXPECT_EQ(forwarded_requests_.load(), 1) << "b forwarded again to a writer that failed";
  EXPECT_FALSE(Admit(b, "jti-1", "b-other", policy::ReplayAction::kConsume)) << "a replay through b was admitted";
  ASSERT_TRUE(b.ledger->Close().ok());
  ASSERT_TRUE(a.ledger->Close().ok());
  auto stored = StoredConsumptions();
  EXPECT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored["jti-1"], 1);
  EXPECT_EQ(stored["jti-2"], 1);
}

TEST_F(ForwardingReplicasTest, AnAnswerNotSignedWithTheLedgerKeyIsNotBelieved) {
  // Whoever took the Lease without the ledger key answers "stored at seq 0"
  // for records it never stored: b must not acknowledge them on its word.
  auto impostor_key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto impostor = HttpServer::Start(
      "127.0.0.1:0", credentials_.get(),
      [&](const HttpRequest& req) {
        ++forwarded_requests_;
        std::string request_sig = req.body.substr(0, req.body.find('\n'));
        std::string out = R"({"results":[{"hash":"sha256:)" + std::string(64, '0') + R"(","seq":0}]})";
        auto sig = impostor_key.Sign("execgov ledger forward response v1\n" + request_sig + "\n" + out);
        HttpResponse r;
        r.content_type = kForwardContentType;
        r.body = crypto::Base64Encode(*sig) + "\n" + out;
        return r;
      },
      2, kMaxBodyBytes);
  ASSERT_TRUE(impostor.ok());
  Replica b = OpenForwarding("https://127.0.0.1:" + std::to_string((*impostor)->port()));
  ASSERT_TRUE(b.ledger);
  ASSERT_TRUE(Admit(b, "jti-1", "b-1", policy::ReplayAction::kConsume));
  EXPECT_EQ(forwarded_requests_.load(), 1);
  ASSERT_TRUE(b.ledger->Close().ok());
  auto stored = StoredConsumptions();
  EXPECT_EQ(stored["jti-1"], 1) << "the record was acknowledged but never stored";
}

TEST_F(ForwardingReplicasTest, AnUnreachableWriterLeavesTheRecordsToTheReplicaItself) {
  Replica a = Open();
  ASSERT_TRUE(a.ledger);
  int port;
  {
    auto server = Serve(a, key_);
    ASSERT_NE(server, nullptr);
    port = server->port();
  }  // stopped: nothing listens there now
  Replica b = OpenForwarding("https://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(b.ledger);
  ASSERT_TRUE(Admit(b, "jti-1", "b-1", policy::ReplayAction::kConsume));
  ASSERT_TRUE(Admit(a, "jti-2", "a-2", policy::ReplayAction::kConsume));
  EXPECT_FALSE(Admit(b, "jti-2", "b-2", policy::ReplayAction::kConsume)) << "b admitted a jti a consumed";
  ASSERT_TRUE(b.ledger->Close().ok());
  ASSERT_TRUE(a.ledger->Close().ok());
  auto stored = StoredConsumptions();
  EXPECT_EQ(stored["jti-1"], 1);
  EXPECT_EQ(stored["jti-2"], 1);
}

TEST_F(SharedLedgerReplayTest, AnInheritanceOneReplicaRecordedIsSeenByTheOther) {
  Replica a = Open(), b = Open();
  ASSERT_TRUE(a.ledger && b.ledger);
  ASSERT_TRUE(Admit(a, "jti-er", "request-uid", policy::ReplayAction::kConsume));
  // b has written nothing since it opened: it learns of the consumption
  // when Decide asks about the Job's owner, as the handler does first.
  auto owner = b.store->Find("jti-er", "request-uid");
  ASSERT_TRUE(owner.has_value()) << "replica b did not catch up with replica a's consumption";
  EXPECT_EQ(owner->uid, "request-uid");
  ASSERT_TRUE(Admit(b, "jti-er", "job-uid", policy::ReplayAction::kInherit));
  auto job = a.store->Find("jti-er", "job-uid");
  ASSERT_TRUE(job.has_value());
  EXPECT_TRUE(job->inherited) << "replica a did not learn of the inheritance replica b recorded";
  EXPECT_EQ(job->uid, "request-uid");
  EXPECT_FALSE(a.store->Find("jti-er", "other-uid")->inherited);
  ASSERT_TRUE(a.ledger->Close().ok());
  ASSERT_TRUE(b.ledger->Close().ok());
}

}  // namespace
}  // namespace execgov::webhook
