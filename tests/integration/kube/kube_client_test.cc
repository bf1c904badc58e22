// The REST client against the real kube-apiserver of the control-plane
// fixture: paging, watches (events, bookmarks, 410, stop), conflicts under
// concurrent writers, the status subresource, Events. Each test works in
// its own namespace (and its own CRD where one is needed) and removes them.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <set>
#include <future>
#include <mutex>
#include <thread>

#include "cluster_env.h"
#include "kube/events.h"
#include "support/subprocess.h"

namespace execgov::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class KubeClientTest : public testenv::NamespaceTest {
 protected:
  KubeClientTest() : NamespaceTest("kube") {}
  void TearDown() override {
    if (client_ && !group_.empty()) (void)testenv::DeleteWidgetCrd(*client_, group_);
    NamespaceTest::TearDown();
  }
  std::string CmPath(const std::string& name = "") const { return ResourcePath("v1", "configmaps", ns_, name); }
  // A CRD of this test's own (cluster-scoped, so the name carries the pid).
  void MakeCrd() {
    group_ = testenv::UniqueName("w") + ".test.execgov.io";
    Status st = testenv::CreateWidgetCrd(*client_, group_, ns_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::string WidgetPath(const std::string& name = "") const { return ResourcePath(group_ + "/v1", "widgets", ns_, name); }
  json Widget(const std::string& name) const {
    return {{"apiVersion", group_ + "/v1"}, {"kind", "Widget"}, {"metadata", {{"name", name}, {"namespace", ns_}}},
            {"spec", {{"size", 1}}}};
  }

  std::string group_;
};

TEST_F(KubeClientTest, ListFollowsContinueAcrossPages) {
  for (int i = 0; i < 23; ++i) {
    auto r = client_->Create(CmPath(), testenv::ConfigMap(ns_, "cm-" + std::to_string(i), {{"i", std::to_string(i)}},
                                                          {{"set", "paged"}}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  ASSERT_TRUE(client_->Create(CmPath(), testenv::ConfigMap(ns_, "other")).ok());
  ListOptions o;
  o.page_size = 5;  // five pages
  o.label_selector = "set=paged";
  auto list = client_->List(CmPath(), o);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->items.size(), 23u);
  std::set<std::string> names;
  for (const auto& item : list->items) {
    EXPECT_EQ(item["kind"], "ConfigMap");
    EXPECT_EQ(item["apiVersion"], "v1");
    names.insert(item["metadata"]["name"]);
  }
  EXPECT_EQ(names.size(), 23u);
  EXPECT_FALSE(list->resource_version.empty());
}

// Bookmarks carry the resource's newest version to a watcher whose own
// objects did not change: the API server sends one shortly before the
// watch's deadline when the version moved past the watcher's last event.
TEST_F(KubeClientTest, WatchSeesAddModifyDeleteThenABookmarkBeforeTheServerEndsIt) {
  auto start = client_->List(CmPath(), {});
  ASSERT_TRUE(start.ok());
  std::mutex mu;
  std::vector<std::string> seen;
  std::string bookmark_rv;
  WatchOptions o;
  o.resource_version = start->resource_version;
  o.label_selector = "watched=yes";
  // The API server sends a bookmark two seconds before a watch's deadline.
  o.timeout = 8s;
  auto watch = std::async(std::launch::async, [&] {
    return client_->Watch(CmPath(), o, [&](const WatchEvent& e) {
      std::lock_guard<std::mutex> l(mu);
      if (e.type == WatchEventType::kBookmark) {
        bookmark_rv = e.object["metadata"].value("resourceVersion", "");
      } else {
        const char* t = e.type == WatchEventType::kAdded ? "ADDED" : e.type == WatchEventType::kModified ? "MODIFIED" : "DELETED";
        seen.push_back(std::string(t) + " " + e.object["metadata"].value("name", "") + " " + e.object["data"].value("v", ""));
      }
      return WatchControl::kContinue;
    });
  });
  auto created = client_->Create(CmPath(), testenv::ConfigMap(ns_, "w", {{"v", "1"}}, {{"watched", "yes"}}));
  ASSERT_TRUE(created.ok());
  json changed = *created;
  changed["data"]["v"] = "2";
  ASSERT_TRUE(client_->Update(CmPath("w"), changed).ok());
  ASSERT_TRUE(client_->Delete(CmPath("w")).ok());
  // Not watched, but it moves the resource's version past the watcher's.
  auto unwatched = client_->Create(CmPath(), testenv::ConfigMap(ns_, "unwatched"));
  ASSERT_TRUE(unwatched.ok());
  Status st = watch.get();  // the server ends the stream at its timeout
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED w 1", "MODIFIED w 2", "DELETED w 2"}));
  // Bookmarks are at the server's discretion (now and then one is skipped
  // under load): watch again, from the unwatched change, a few times.
  for (int again = 0; again < 3 && bookmark_rv.empty(); ++again) {
    o.resource_version = (*unwatched)["metadata"]["resourceVersion"];
    unwatched = client_->Create(CmPath(), testenv::ConfigMap(ns_, "unwatched-" + std::to_string(again)));
    ASSERT_TRUE(unwatched.ok());
    st = client_->Watch(CmPath(), o, [&](const WatchEvent& e) {
      std::lock_guard<std::mutex> l(mu);
      if (e.type == WatchEventType::kBookmark) bookmark_rv = e.object["metadata"].value("resourceVersion", "");
      return WatchControl::kContinue;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_FALSE(bookmark_rv.empty()) << "no bookmark";
  // Versions are opaque to clients; this cluster's are etcd revisions.
  EXPECT_GE(std::stoll(bookmark_rv), std::stoll((*unwatched)["metadata"]["resourceVersion"].get<std::string>()));
}

// What really yields 410 Gone from a watch: the API server's watch cache no
// longer (or never) held the requested version. Compacting etcd alone does
// not, since the cache serves recent versions itself; a resource whose cache
// restarted (its CRD deleted and created again) does.
TEST_F(KubeClientTest, WatchFromAVersionTheServerNoLongerHasIsOutOfRange) {
  MakeCrd();
  auto w = client_->Create(WidgetPath(), Widget("w1"));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::string old_rv = (*w)["metadata"]["resourceVersion"];
  Status st = testenv::DeleteWidgetCrd(*client_, group_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = testenv::CreateWidgetCrd(*client_, group_, ns_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  WatchOptions o;
  o.resource_version = old_rv;
  o.timeout = 30s;
  int events = 0;
  st = client_->Watch(WidgetPath(), o, [&](const WatchEvent&) {
    ++events;
    return WatchControl::kContinue;
  });
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_EQ(events, 0);
}

TEST_F(KubeClientTest, StopEndsAnIdleWatchLongBeforeItsTimeout) {
  auto start = client_->List(CmPath(), {});
  ASSERT_TRUE(start.ok());
  std::atomic<bool> stop{false};
  std::promise<void> got_first;
  WatchOptions o;
  o.resource_version = start->resource_version;
  o.timeout = 600s;
  o.allow_bookmarks = false;
  o.field_selector = "metadata.name=ping";  // not the namespace's kube-root-ca.crt
  o.stop = &stop;
  int events = 0;
  auto watch = std::async(std::launch::async, [&] {
    return client_->Watch(CmPath(), o, [&](const WatchEvent&) {
      if (events++ == 0) got_first.set_value();
      return WatchControl::kContinue;
    });
  });
  ASSERT_TRUE(client_->Create(CmPath(), testenv::ConfigMap(ns_, "ping")).ok());
  // The stream is open and, after this event, idle.
  ASSERT_EQ(got_first.get_future().wait_for(30s), std::future_status::ready);
  stop = true;
  // Far below the 600 s the server would keep it open.
  ASSERT_EQ(watch.wait_for(10s), std::future_status::ready) << "the watch ignored its stop flag";
  EXPECT_TRUE(watch.get().ok());
  EXPECT_EQ(events, 1);
}

TEST_F(KubeClientTest, UpdateWithRetryUnderConcurrentWritersLosesNoIncrement) {
  ASSERT_TRUE(client_->Create(CmPath(), testenv::ConfigMap(ns_, "counter", {{"n", "0"}})).ok());
  constexpr int kThreads = 8, kEach = 5;
  std::atomic<int> mutations{0};
  std::vector<std::thread> writers;
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      // A client per writer: separate connections, as separate processes.
      auto client = testenv::Connect();
      for (int i = 0; i < kEach; ++i) {
        auto r = UpdateWithRetry(*client, CmPath("counter"), [&](json& cm) {
          mutations++;
          cm["data"]["n"] = std::to_string(std::stoi(cm["data"]["n"].get<std::string>()) + 1);
          return true;
        }, false, /*attempts=*/1000);
        if (!r.ok()) results[t] = r.status();
      }
    });
  }
  for (auto& w : writers) w.join();
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  auto cm = client_->Get(CmPath("counter"));
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"]["n"], std::to_string(kThreads * kEach));
  std::cout << "increments: " << kThreads * kEach << ", mutate calls (conflicts retried): " << mutations.load() << "\n";
}

TEST_F(KubeClientTest, StatusGoesThroughTheStatusSubresourceOnly) {
  MakeCrd();
  auto w = client_->Create(WidgetPath(), Widget("w"));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // The main resource ignores status...
  json with_status = *w;
  with_status["status"] = {{"phase", "Ignored"}};
  auto updated = client_->Update(WidgetPath("w"), with_status);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_FALSE(updated->contains("status"));
  // ...the subresource takes it, guarded by resourceVersion.
  json status_write = *updated;
  status_write["status"] = {{"phase", "Ready"}};
  auto s = client_->UpdateStatus(WidgetPath("w"), status_write);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)["status"]["phase"], "Ready");
  auto stale = client_->UpdateStatus(WidgetPath("w"), status_write);  // the old resourceVersion
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted) << stale.status().ToString();
  auto retried = UpdateWithRetry(*client_, WidgetPath("w"), [](json& o) {
    o["status"]["phase"] = "Done";
    o["spec"]["size"] = 99;  // not written by a status update
    return true;
  }, /*status=*/true);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  auto final_obj = client_->Get(WidgetPath("w"));
  ASSERT_TRUE(final_obj.ok());
  EXPECT_EQ((*final_obj)["status"]["phase"], "Done");
  EXPECT_EQ((*final_obj)["spec"]["size"], 1);
  // Patch (merge) on the main resource.
  auto patched = client_->Patch(WidgetPath("w"), {{"spec", {{"size", 2}}}}, PatchType::kMerge);
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["spec"]["size"], 2);
  EXPECT_EQ((*patched)["status"]["phase"], "Done");
}

TEST_F(KubeClientTest, EventsAppearInKubectlAndRepeatsCount) {
  auto cm = client_->Create(CmPath(), testenv::ConfigMap(ns_, "subject"));
  ASSERT_TRUE(cm.ok());
  {
    auto recorder = NewEventRecorder(client_.get(), "execgov-test");
    recorder->Record(*cm, EventType::kWarning, "Repeated", "the same thing again");
    recorder->Record(*cm, EventType::kWarning, "Repeated", "the same thing again");
    recorder->Record(*cm, EventType::kWarning, "Repeated", "the same thing again");
    recorder->Record(*cm, EventType::kNormal, "Once", "something else");
  }  // destruction writes what was recorded
  json events;
  bool found = testenv::Poll([&] {
    auto out = testing::RunCommand(testenv::Kubectl() + " get events -n " + ns_ + " -o json");
    if (out.exit_code != 0) return false;
    events = json::parse(out.out, nullptr, false);
    return events.is_object() && events["items"].size() == 2;
  });
  ASSERT_TRUE(found) << events.dump();
  for (const auto& e : events["items"]) {
    EXPECT_EQ(e["involvedObject"]["name"], "subject");
    EXPECT_EQ(e["involvedObject"]["uid"], (*cm)["metadata"]["uid"]);
    EXPECT_EQ(e["source"]["component"], "execgov-test");
    if (e["reason"] == "Repeated") {
      EXPECT_EQ(e["count"], 3);
      EXPECT_EQ(e["type"], "Warning");
    } else {
      EXPECT_EQ(e["reason"], "Once");
      EXPECT_EQ(e["count"], 1);
      EXPECT_EQ(e["type"], "Normal");
    }
  }
  auto text = testing::RunCommand(testenv::Kubectl() + " get events -n " + ns_);
  EXPECT_NE(text.out.find("the same thing again"), std::string::npos) << text.out;
}

TEST_F(KubeClientTest, RequestsToADeadServerFailAsUnavailableAfterRetries) {
  auto config = testenv::Config();
  ASSERT_TRUE(config.ok());
  config->server = "https://127.0.0.1:1";  // nothing listens on port 1
  ClientOptions o;
  o.max_attempts = 3;
  o.initial_backoff = 1ms;
  auto client = NewClient(*config, o);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Get(CmPath());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

}  // namespace
}  // namespace execgov::kube
