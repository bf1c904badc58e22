// Phantom admissions: an allowed CREATE whose object the informers never
// delivered is marked not-created in the ledger once its grace has passed,
// once per uid, and only when the watches could have seen it. A real (file)
// ledger, a fake clock; the informers are mostly never started, so what
// they deliver is told to the controller directly (ObjectSeen); one test runs
// a Pod informer over a scripted client to show its adds are sightings and
// its relists restart tracking.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "controllers/lineage_controller.h"
#include "core/clock.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "metrics/metrics.h"
#include "runtime/informer.h"
#include "support/fake_kube_client.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kGrace = 120s;

json Create(const std::string& ns, const std::string& name, const std::string& uid) {
  return {{"type", "admission"},
          {"decision", "allowed"},
          {"reason", "Allowed"},
          {"user", "alice"},
          {"object", {{"kind", "Pod"}, {"namespace", ns}, {"name", name}, {"uid", uid}, {"operation", "CREATE"}}}};
}

class PhantomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "file:" + dir_.File("ledger.jsonl");
    auto l = ledger::OpenLedger(url_, {});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  // A controller (and its index) as a freshly started operator has them.
  std::unique_ptr<LineageController> Start(std::set<std::string> watch = {}, size_t max_sightings = 1000,
                                           std::vector<runtime::Informer*> objects = {}) {
    auto reader = ledger::OpenBackend(url_, {.read_only = true});
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    readers_.push_back(std::move(reader).value());
    indexes_.push_back(std::make_unique<LedgerIndex>(readers_.back().get(), &clock_));
    LineageControllerDeps deps;
    deps.objects = objects.empty() ? std::vector<runtime::Informer*>{&pods_, &jobs_, &requests_} : objects;
    deps.namespaces = &namespaces_;
    deps.watch_namespaces = std::move(watch);
    deps.ledger = ledger_.get();
    deps.index = indexes_.back().get();
    deps.metrics = &metrics_;
    deps.phantom_after = kGrace;
    deps.clock = &clock_;
    deps.operator_identity = "operator-0";
    deps.max_sightings = max_sightings;
    return std::make_unique<LineageController>(std::move(deps));
  }

  ledger::Appended Append(const json& entry) {
    auto a = ledger_->Append(entry);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? *a : ledger::Appended{};
  }

  int Pass(LineageController& c) {
    auto r = c.Pass();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.ok() ? r->derived : -1, 0);
    return r.ok() ? r->not_created : -1;
  }

  std::vector<json> Outcomes() {
    auto reader = ledger::OpenBackend(url_, {.read_only = true});
    std::vector<json> out;
    EXPECT_TRUE((*reader)
                    ->Scan(0, UINT64_MAX,
                           [&](uint64_t, std::string_view bytes) {
                             json r = json::parse(bytes);
                             if (r["type"] == "outcome") out.push_back(r);
                             return Status::Ok();
                           })
                    .ok());
    return out;
  }

  testing::TempDir dir_;
  std::string url_;
  FakeClock clock_{1800000000};
  std::unique_ptr<ledger::Ledger> ledger_;
  std::vector<std::unique_ptr<ledger::Backend>> readers_;
  std::vector<std::unique_ptr<LedgerIndex>> indexes_;
  metrics::Metrics metrics_;
  // Never started: no client is called.
  runtime::Informer pods_{nullptr, "/api/v1/pods"}, jobs_{nullptr, "/apis/batch/v1/jobs"},
      requests_{nullptr, "/apis/execgov.io/v1alpha1/executionrequests"}, namespaces_{nullptr, "/api/v1/namespaces"};
};

TEST_F(PhantomTest, MarksAnAllowedCreationWhoseObjectNeverAppearedOnceAfterTheGrace) {
  auto c = Start();
  EXPECT_EQ(Pass(*c), 0);  // the first pass: tracking starts here
  auto made = Append(Create("team-a", "made", "uid-made"));
  auto phantom = Append(Create("team-a", "phantom", "uid-phantom"));
  auto came_and_went = Append(Create("team-a", "brief", "uid-brief"));
  EXPECT_EQ(Pass(*c), 0);  // read now; the grace counts from here
  c->ObjectSeen("uid-made");
  c->ObjectSeen("uid-brief");  // added and deleted: never in a cache, still seen
  clock_.Advance(kGrace - 1s);
  EXPECT_EQ(Pass(*c), 0);
  EXPECT_TRUE(Outcomes().empty());

  clock_.Advance(1s);
  EXPECT_EQ(Pass(*c), 1);
  auto outcomes = Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  const json& r = outcomes[0];
  EXPECT_EQ(r["outcome"], "not-created");
  EXPECT_EQ(r["admission"], phantom.hash);
  EXPECT_EQ(r["admissionSeq"], phantom.seq);
  EXPECT_EQ(r["object"], json({{"kind", "Pod"}, {"namespace", "team-a"}, {"name", "phantom"}, {"uid", "uid-phantom"}}));
  EXPECT_EQ(r["operator"], "operator-0");
  EXPECT_NE(r["message"].get<std::string>().find("120 s"), std::string::npos) << r["message"];
  EXPECT_NE(metrics_.Serialize().find("execgov_lineage_phantom_admissions_total{kind=\"Pod\"} 1"), std::string::npos)
      << metrics_.Serialize();
  (void)made;
  (void)came_and_went;

  clock_.Advance(kGrace * 3);
  EXPECT_EQ(Pass(*c), 0);  // once per uid
  EXPECT_EQ(Outcomes().size(), 1u);
}

TEST_F(PhantomTest, AnOutcomeAnotherLeaderWroteIsNotWrittenAgain) {
  auto c = Start();
  Pass(*c);
  auto phantom = Append(Create("team-a", "phantom", "uid-phantom"));
  Pass(*c);  // read: kept as unmatched
  // The previous leader marked it and then lost the lease.
  json earlier = NotCreatedRecord(indexes_.back()->UnmatchedReadBy(clock_.Now())[0], kGrace, "operator-1");
  EXPECT_EQ(earlier["admission"], phantom.hash);
  Append(earlier);
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 0);
  ASSERT_EQ(Outcomes().size(), 1u);
  EXPECT_EQ(Outcomes()[0]["operator"], "operator-1");
}

TEST_F(PhantomTest, AdmissionsRecordedBeforeTheFirstPassAreLeftAlone) {
  // Recorded while no operator watched: it may have come and gone unseen.
  Append(Create("team-a", "while-down", "uid-down"));
  auto c = Start();
  Pass(*c);
  clock_.Advance(kGrace * 2);
  EXPECT_EQ(Pass(*c), 0);
  EXPECT_TRUE(Outcomes().empty());
}

TEST_F(PhantomTest, LostSightingsRestartTrackingInsteadOfMarking) {
  auto c = Start({}, /*max_sightings=*/2);
  Pass(*c);
  Append(Create("team-a", "made", "uid-made"));
  Pass(*c);
  c->ObjectSeen("uid-made");
  c->ObjectSeen("uid-other-1");
  c->ObjectSeen("uid-other-2");  // past the cap: every sighting so far is dropped
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 0);  // not judged: its sighting may have been among those lost
  EXPECT_TRUE(Outcomes().empty());

  // Tracking restarted at the end of the ledger: what comes after is judged.
  Append(Create("team-a", "phantom", "uid-phantom"));
  Pass(*c);
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 1);
  ASSERT_EQ(Outcomes().size(), 1u);
  EXPECT_EQ(Outcomes()[0]["object"]["uid"], "uid-phantom");
}

TEST_F(PhantomTest, SightingsOutliveTheGraceWhenTheRecordIsReadLate) {
  auto c = Start();
  Pass(*c);
  // Seen before its record is read (a webhook whose failurePolicy let the
  // API server go on without it, recording late).
  c->ObjectSeen("uid-late");
  clock_.Advance(kGrace / 2);
  Pass(*c);
  Append(Create("team-a", "late", "uid-late"));
  Pass(*c);
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 0);
  EXPECT_TRUE(Outcomes().empty());
}

TEST_F(PhantomTest, OtherNamespacesAreLeftToTheirOperator) {
  auto c = Start({"team-a"});
  Pass(*c);
  Append(Create("team-b", "elsewhere", "uid-b"));
  Append(Create("team-a", "here", "uid-a"));
  Pass(*c);
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 1);
  ASSERT_EQ(Outcomes().size(), 1u);
  EXPECT_EQ(Outcomes()[0]["object"]["uid"], "uid-a");
}

// A Pod collection whose watches the test feeds one at a time: each Watch
// waits for the next script, delivers its events and ends with its status.
// Lists are always empty.
class ScriptedPods final : public testing::ListWatchOnlyClient {
 public:
  struct Script {
    std::vector<kube::WatchEvent> events;
    Status end;
  };
  void Push(Script s) {
    std::lock_guard l(mu_);
    scripts_.push_back(std::move(s));
    cv_.notify_all();
  }

  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override {
    return kube::ListResult{{}, "1"};
  }
  Status Watch(const std::string&, const kube::WatchOptions& o,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>& on_event) override {
    Script s;
    {
      std::unique_lock l(mu_);
      while (scripts_.empty()) {
        if (o.stop->load()) return Status::Ok();
        cv_.wait_for(l, 10ms);
      }
      s = std::move(scripts_.front());
      scripts_.pop_front();
    }
    for (const auto& e : s.events) on_event(e);
    return s.end;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Script> scripts_;
};

json PodObject(const std::string& name, const std::string& uid, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}, {"uid", uid}, {"resourceVersion", rv}}}};
}

// Waits (real time, bounded) for what the informer's thread does.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(5ms);
  return pred();
}

TEST_F(PhantomTest, InformerAddsAreSightingsAndARelistRestartsTracking) {
  ScriptedPods client;
  runtime::Informer live(&client, "/api/v1/pods");
  auto c = Start({}, 1000, {&live});  // adds its handler before the informer starts
  live.Start();
  ASSERT_TRUE(live.WaitForSync(10s));
  Pass(*c);
  Append(Create("team-a", "brief", "uid-brief"));
  Append(Create("team-a", "phantom", "uid-phantom"));
  Pass(*c);
  // Added and deleted in one watch: never in the cache at a pass.
  client.Push({{{kube::WatchEventType::kAdded, PodObject("brief", "uid-brief", "2")},
                {kube::WatchEventType::kDeleted, PodObject("brief", "uid-brief", "3")}},
               Status::Ok()});
  ASSERT_TRUE(Eventually([&] { return live.watches_started() >= 2; }));  // the script was played
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 1);
  ASSERT_EQ(Outcomes().size(), 1u);
  EXPECT_EQ(Outcomes()[0]["object"]["uid"], "uid-phantom");

  // The watch expires (410 Gone): events may have been missed until the
  // relist, so what was recorded before it is not judged.
  Append(Create("team-a", "unknown", "uid-unknown"));
  Pass(*c);
  client.Push({{}, OutOfRange("too old resource version")});
  ASSERT_TRUE(Eventually([&] { return live.relists() == 1; }));
  Pass(*c);
  clock_.Advance(kGrace);
  EXPECT_EQ(Pass(*c), 0);
  EXPECT_EQ(Outcomes().size(), 1u);
  live.Stop();
}

TEST(NotCreatedRecordTest, NamesTheAdmissionAndFitsTheLedger) {
  LedgerIndex::UnmatchedCreate c{7, "sha256:" + std::string(64, 'a'), "2027-01-15T08:00:00.000Z", {}, "Job", "team-a",
                                 "nightly", "0b0c"};
  json r = NotCreatedRecord(c, 90s, "");
  EXPECT_EQ(r["type"], "outcome");
  EXPECT_EQ(r["outcome"], "not-created");
  EXPECT_EQ(r["admission"], c.hash);
  EXPECT_EQ(r["admissionSeq"], 7);
  EXPECT_EQ(r["object"]["kind"], "Job");
  EXPECT_FALSE(r.contains("operator"));
  EXPECT_FALSE(r.contains("parent"));  // `parent` is the lineage link an artifact claims
  EXPECT_TRUE(ledger::CanonicalEntry(r).ok());
}

}  // namespace
}  // namespace execgov::controllers
