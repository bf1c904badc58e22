// The informer against the real API server: it syncs, follows changes,
// resumes after an outage without relisting, relists after a real 410 Gone
// and converges, and resyncs.
#include "runtime/informer.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "../kube/cluster_env.h"
#include "tcp_proxy.h"

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace testenv = kube::testenv;

// The handler's view: what the informer told it, replayed into a map.
class Mirror {
 public:
  EventHandler Handler() {
    return [this](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
      std::lock_guard<std::mutex> l(mu_);
      if (new_obj) {
        objects_[ObjectKey(*new_obj)] = new_obj;
        if (old_obj && old_obj == new_obj) resyncs_++;
      } else {
        objects_.erase(ObjectKey(*old_obj));
        deletes_++;
      }
    };
  }
  std::map<std::string, std::string> Data(const std::string& field = "v") {
    std::lock_guard<std::mutex> l(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [k, o] : objects_) {
      out[k] = o->contains("data") ? (*o)["data"].value(field, "") : (*o)["spec"].value(field, "");
    }
    return out;
  }
  int resyncs() {
    std::lock_guard<std::mutex> l(mu_);
    return resyncs_;
  }
  int deletes() {
    std::lock_guard<std::mutex> l(mu_);
    return deletes_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, ObjectPtr> objects_;
  int resyncs_ = 0, deletes_ = 0;
};

std::map<std::string, std::string> StoreData(const Informer& informer, const std::string& field = "v") {
  std::map<std::string, std::string> out;
  for (const auto& o : informer.List()) {
    out[ObjectKey(*o)] = o->contains("data") ? (*o)["data"].value(field, "") : (*o)["spec"].value(field, "");
  }
  return out;
}

class InformerTest : public testenv::NamespaceTest {
 protected:
  InformerTest() : NamespaceTest("inf") {}
  void TearDown() override {
    if (client_ && !group_.empty()) (void)testenv::DeleteWidgetCrd(*client_, group_);
    NamespaceTest::TearDown();
  }
  std::string CmPath(const std::string& name = "") const { return kube::ResourcePath("v1", "configmaps", ns_, name); }
  Status Put(const std::string& name, const std::string& v) {
    auto r = kube::UpdateWithRetry(*client_, CmPath(name), [&](json& cm) {
      cm["data"]["v"] = v;
      return true;
    });
    if (r.status().code() == StatusCode::kNotFound) {
      return client_->Create(CmPath(), testenv::ConfigMap(ns_, name, {{"v", v}}, {{"app", "t"}})).status();
    }
    return r.status();
  }
  InformerOptions Options() const {
    InformerOptions o;
    o.selector.label_selector = "app=t";  // not the namespace's kube-root-ca.crt
    o.initial_backoff = 50ms;
    o.max_backoff = 500ms;
    return o;
  }

  std::string group_;
};

TEST_F(InformerTest, SyncsThenFollowsAddsUpdatesAndDeletes) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("b", "1").ok());
  Informer informer(client_.get(), CmPath(), Options());
  Mirror mirror;
  informer.AddHandler(mirror.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(30s));
  EXPECT_EQ(StoreData(informer), (std::map<std::string, std::string>{{ns_ + "/a", "1"}, {ns_ + "/b", "1"}}));
  ASSERT_TRUE(Put("a", "2").ok());
  ASSERT_TRUE(Put("c", "1").ok());
  ASSERT_TRUE(client_->Delete(CmPath("b")).ok());
  const std::map<std::string, std::string> want = {{ns_ + "/a", "2"}, {ns_ + "/c", "1"}};
  EXPECT_TRUE(testenv::Poll([&] { return StoreData(informer) == want; })) << informer.List().size();
  EXPECT_TRUE(testenv::Poll([&] { return mirror.Data() == want; }));
  EXPECT_EQ(informer.relists(), 0u);
  EXPECT_EQ(mirror.deletes(), 1);
  // The server keeps managedFields on every object; the cache does not.
  ASSERT_TRUE(client_->Get(CmPath("a"))->at("metadata").contains("managedFields"));
  for (const auto& obj : informer.List()) EXPECT_FALSE(obj->at("metadata").contains("managedFields"));
  informer.Stop();
}

TEST_F(InformerTest, ResumesAfterAnOutageAndCatchesUpWithoutRelisting) {
  auto config = testenv::Config();
  ASSERT_TRUE(config.ok());
  const std::string server = config->server;
  const int api_port = std::stoi(server.substr(server.rfind(':') + 1));
  testing::TcpProxy proxy(api_port);
  config->server = "https://127.0.0.1:" + std::to_string(proxy.port());
  kube::ClientOptions co;
  co.max_attempts = 2;
  co.initial_backoff = 10ms;
  auto via_proxy = kube::NewClient(*config, co);
  ASSERT_TRUE(via_proxy.ok());

  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("b", "1").ok());
  Informer informer(via_proxy->get(), CmPath(), Options());
  Mirror mirror;
  informer.AddHandler(mirror.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(30s));
  const uint64_t watches_before = informer.watches_started();

  proxy.SetUp(false);  // the informer's watch breaks; its retries fail
  ASSERT_TRUE(Put("a", "2").ok());
  ASSERT_TRUE(Put("c", "1").ok());
  ASSERT_TRUE(client_->Delete(CmPath("b")).ok());
  // It keeps trying while down, and its store is stale.
  ASSERT_TRUE(testenv::Poll([&] { return informer.watches_started() >= watches_before + 2; }));
  EXPECT_EQ(StoreData(informer).count(ns_ + "/c"), 0u);

  proxy.SetUp(true);
  const std::map<std::string, std::string> want = {{ns_ + "/a", "2"}, {ns_ + "/c", "1"}};
  EXPECT_TRUE(testenv::Poll([&] { return StoreData(informer) == want; }));
  EXPECT_TRUE(testenv::Poll([&] { return mirror.Data() == want; }));
  EXPECT_EQ(informer.relists(), 0u) << "resumed from its version, so no relist was needed";
  EXPECT_EQ(mirror.deletes(), 1);
  informer.Stop();
}

// A real 410: the Widget CRD is deleted and created again, so the API
// server's watch cache for it restarts after the informer's last version.
// The informer must relist, tell its handlers the difference, and converge.
TEST_F(InformerTest, RelistsAfterGoneAndConverges) {
  group_ = testenv::UniqueName("i") + ".test.execgov.io";
  ASSERT_TRUE(testenv::CreateWidgetCrd(*client_, group_, ns_).ok());
  const std::string path = kube::ResourcePath(group_ + "/v1", "widgets", ns_);
  auto widget = [&](const std::string& name, const std::string& v) {
    return json{{"apiVersion", group_ + "/v1"}, {"kind", "Widget"},
                {"metadata", {{"name", name}, {"namespace", ns_}}}, {"spec", {{"v", v}}}};
  };
  ASSERT_TRUE(client_->Create(path, widget("w1", "old")).ok());
  ASSERT_TRUE(client_->Create(path, widget("w2", "old")).ok());
  InformerOptions o;
  o.initial_backoff = 50ms;
  o.max_backoff = 500ms;
  Informer informer(client_.get(), path, o);
  Mirror mirror;
  informer.AddHandler(mirror.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(30s));
  ASSERT_EQ(StoreData(informer).size(), 2u);
  const std::string first_uid = (*informer.Get(ns_ + "/w1"))["metadata"]["uid"];

  Status st = testenv::DeleteWidgetCrd(*client_, group_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = testenv::CreateWidgetCrd(*client_, group_, ns_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(client_->Create(path, widget("w1", "new")).ok());
  ASSERT_TRUE(client_->Create(path, widget("w3", "new")).ok());

  const std::map<std::string, std::string> want = {{ns_ + "/w1", "new"}, {ns_ + "/w3", "new"}};
  EXPECT_TRUE(testenv::Poll([&] { return StoreData(informer) == want; }, 60s));
  EXPECT_TRUE(testenv::Poll([&] { return mirror.Data() == want; }));
  EXPECT_GE(informer.relists(), 1u);
  ASSERT_NE(informer.Get(ns_ + "/w1"), nullptr);
  EXPECT_NE((*informer.Get(ns_ + "/w1"))["metadata"]["uid"], first_uid);
  informer.Stop();
}

TEST_F(InformerTest, ResyncRedeliversCachedObjects) {
  ASSERT_TRUE(Put("a", "1").ok());
  InformerOptions o = Options();
  o.resync = 100ms;
  Informer informer(client_.get(), CmPath(), o);
  Mirror mirror;
  informer.AddHandler(mirror.Handler());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(30s));
  EXPECT_TRUE(testenv::Poll([&] { return mirror.resyncs() >= 2; }));
  informer.Stop();
}

}  // namespace
}  // namespace execgov::runtime
