// The informer's list/watch/relist logic over a scripted fake client (the
// real API server is in tests/integration/runtime).
#include "runtime/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "support/fake_kube_client.h"

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json Obj(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
}

struct WatchScript {
  std::string expect_rv;  // the version the watch must start from
  std::vector<kube::WatchEvent> events;
  Status end;
};

class FakeClient final : public testing::ListWatchOnlyClient {
 public:
  std::deque<StatusOr<kube::ListResult>> lists;
  std::deque<WatchScript> watches;
  std::vector<std::string> watch_rvs;
  std::mutex mu;
  std::condition_variable cv;

  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override {
    std::lock_guard<std::mutex> l(mu);
    if (lists.empty()) return Unavailable("no more lists scripted");
    auto r = lists.front();
    lists.pop_front();
    return r;
  }

  Status Watch(const std::string&, const kube::WatchOptions& o,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>& on_event) override {
    WatchScript w;
    {
      std::unique_lock<std::mutex> l(mu);
      watch_rvs.push_back(o.resource_version);
      cv.notify_all();
      if (watches.empty()) {
        // Idle until stopped, like a quiet stream.
        while (!o.stop->load()) cv.wait_for(l, 10ms);
        return Status::Ok();
      }
      w = watches.front();
      watches.pop_front();
    }
    for (const auto& e : w.events) {
      if (on_event(e) == kube::WatchControl::kStop) return Status::Ok();
    }
    return w.end;
  }

  bool WaitWatches(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return watch_rvs.size() >= n; });
  }
};

struct Recorded {
  std::string kind, key, rv;
};

TEST(InformerTest, ResumesFromLastVersionRelistsOnExpiryAndDeliversTheDifference) {
  FakeClient client;
  client.lists.push_back(kube::ListResult{{Obj("a", "1"), Obj("b", "2")}, "10"});
  // First watch: a change and a bookmark, then the stream ends normally.
  client.watches.push_back({"10",
                            {{kube::WatchEventType::kModified, Obj("a", "11")},
                             {kube::WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", "15"}}}}}},
                            Status::Ok()});
  // Resumed from the bookmark; then the version is gone.
  client.watches.push_back({"15", {}, OutOfRange("too old resource version")});
  // The relist: b deleted, c added, a unchanged, while nobody watched.
  client.lists.push_back(kube::ListResult{{Obj("a", "11"), Obj("c", "18")}, "20"});

  InformerOptions o;
  o.initial_backoff = 1ms;
  Informer informer(&client, "/api/v1/namespaces/ns/configmaps", o);
  std::mutex mu;
  std::vector<Recorded> seen;
  informer.AddHandler([&](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
    std::lock_guard<std::mutex> l(mu);
    const ObjectPtr& o = new_obj ? new_obj : old_obj;
    std::string kind = !old_obj ? "add" : !new_obj ? "delete" : "update";
    seen.push_back({kind, ObjectKey(*o), (*o)["metadata"]["resourceVersion"]});
  });
  EXPECT_FALSE(informer.HasSynced());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(10s));
  ASSERT_TRUE(client.WaitWatches(3));  // the third watch idles
  EXPECT_EQ(client.watch_rvs, (std::vector<std::string>{"10", "15", "20"}));
  EXPECT_EQ(informer.relists(), 1u);
  EXPECT_EQ(informer.watches_started(), 3u);
  EXPECT_EQ(informer.LastResourceVersion(), "20");
  ASSERT_NE(informer.Get("ns/a"), nullptr);
  EXPECT_EQ((*informer.Get("ns/a"))["metadata"]["resourceVersion"], "11");
  EXPECT_EQ(informer.Get("ns/b"), nullptr);
  ASSERT_NE(informer.Get("ns/c"), nullptr);
  EXPECT_EQ(informer.List().size(), 2u);
  informer.Stop();

  std::lock_guard<std::mutex> l(mu);
  std::vector<std::string> got;
  for (const auto& r : seen) got.push_back(r.kind + " " + r.key + " " + r.rv);
  EXPECT_EQ(got, (std::vector<std::string>{"add ns/a 1", "add ns/b 2", "update ns/a 11", "add ns/c 18",
                                           "delete ns/b 2"}));
}

TEST(InformerTest, ListErrorsAreRetriedBeforeSync) {
  FakeClient client;
  client.lists.push_back(Unavailable("connection refused"));
  client.lists.push_back(Unavailable("connection refused"));
  client.lists.push_back(kube::ListResult{{Obj("a", "1")}, "5"});
  InformerOptions o;
  o.initial_backoff = 1ms;
  o.max_backoff = 2ms;
  Informer informer(&client, "/api/v1/namespaces/ns/configmaps", o);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(10s));
  EXPECT_EQ(informer.List().size(), 1u);
  EXPECT_EQ(informer.relists(), 0u);
}

TEST(InformerTest, WatchDeleteAndReAdd) {
  FakeClient client;
  client.lists.push_back(kube::ListResult{{Obj("a", "1")}, "1"});
  client.watches.push_back({"1",
                            {{kube::WatchEventType::kDeleted, Obj("a", "2")},
                             {kube::WatchEventType::kAdded, Obj("a", "3")}},
                            Unavailable("connection reset")});
  InformerOptions o;
  o.initial_backoff = 1ms;
  Informer informer(&client, "/api/v1/namespaces/ns/configmaps", o);
  std::vector<std::string> kinds;
  informer.AddHandler([&](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
    kinds.push_back(!old_obj ? "add" : !new_obj ? "delete" : "update");
  });
  informer.Start();
  ASSERT_TRUE(client.WaitWatches(2));
  // After the connection reset the watch resumes from the last event, no relist.
  EXPECT_EQ(client.watch_rvs, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(informer.relists(), 0u);
  informer.Stop();
  EXPECT_EQ(kinds, (std::vector<std::string>{"add", "delete", "add"}));
}

TEST(InformerTest, StopWithoutSyncReturns) {
  FakeClient client;  // every list fails
  InformerOptions o;
  o.initial_backoff = 1ms;
  Informer informer(&client, "/api/v1/configmaps", o);
  informer.Start();
  EXPECT_FALSE(informer.WaitForSync(1ms));
  informer.Stop();
  EXPECT_FALSE(informer.HasSynced());
}

}  // namespace
}  // namespace execgov::runtime
