// The REST client's logic over a scripted transport: status mapping,
// retries, paging, watch-stream parsing, conflict retries. The real API
// server is in tests/integration/kube.
#include "kube/client.h"

#include <gtest/gtest.h>

#include <deque>

#include "kube/http.h"

namespace execgov::kube {
namespace {

using nlohmann::json;

struct Call {
  std::string method, path, body, content_type;
};

class FakeHttp final : public HttpClient {
 public:
  std::deque<StatusOr<HttpResponse>> responses;
  std::vector<Call> calls;
  std::vector<std::string> stream_pieces;  // what Stream delivers, piece by piece

  StatusOr<HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& content_type) override {
    calls.push_back({method, path, body, content_type});
    if (responses.empty()) return Internal("unscripted request " + method + " " + path);
    auto r = responses.front();
    responses.pop_front();
    return r;
  }

  StatusOr<HttpResponse> Stream(const std::string& path, std::chrono::milliseconds, const std::atomic<bool>*,
                                const std::function<bool(std::string_view)>& on_data) override {
    calls.push_back({"WATCH", path, "", ""});
    for (const auto& piece : stream_pieces) {
      if (!on_data(piece)) break;
    }
    return HttpResponse{200, "", -1};
  }
};

HttpResponse Resp(int status, const json& body, int retry_after = -1) { return {status, body.dump(), retry_after}; }

struct Fixture {
  FakeHttp* http;
  std::unique_ptr<Client> client;
};

Fixture Make(int attempts = 3) {
  auto http = std::make_unique<FakeHttp>();
  FakeHttp* raw = http.get();
  ClientOptions o;
  o.max_attempts = attempts;
  o.initial_backoff = std::chrono::milliseconds(0);  // retries without waiting
  o.max_backoff = std::chrono::milliseconds(0);
  return {raw, NewClientOver(std::move(http), o)};
}

json StatusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"code", code}, {"reason", reason}, {"message", message}};
}

TEST(ResourcePathTest, CoreGroupsNamespacesAndNames) {
  EXPECT_EQ(ResourcePath("batch/v1", "jobs", "ns"), "/apis/batch/v1/namespaces/ns/jobs");
  EXPECT_EQ(ResourcePath("batch/v1", "jobs", "ns", "j"), "/apis/batch/v1/namespaces/ns/jobs/j");
  EXPECT_EQ(ResourcePath("v1", "configmaps", "ns", "c"), "/api/v1/namespaces/ns/configmaps/c");
  EXPECT_EQ(ResourcePath("v1", "namespaces"), "/api/v1/namespaces");
  EXPECT_EQ(ResourcePath("execgov.io/v1alpha1", "executionpolicies", "", "p"),
            "/apis/execgov.io/v1alpha1/executionpolicies/p");
  EXPECT_EQ(ResourcePath("coordination.k8s.io/v1", "leases", "kube-system"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
  EXPECT_EQ(ConfigMapPath("ns", "c"), ResourcePath("v1", "configmaps", "ns", "c"));
}

TEST(ClientTest, MapsHttpStatusesToCodes) {
  struct Case {
    int status;
    std::string reason;
    StatusCode code;
  };
  for (const Case& c : std::vector<Case>{{404, "NotFound", StatusCode::kNotFound},
                                         {409, "AlreadyExists", StatusCode::kAlreadyExists},
                                         {409, "Conflict", StatusCode::kAborted},
                                         {410, "Expired", StatusCode::kOutOfRange},
                                         {403, "Forbidden", StatusCode::kPermissionDenied},
                                         {422, "Invalid", StatusCode::kInvalidArgument}}) {
    auto f = Make();
    f.http->responses.push_back(Resp(c.status, StatusBody(c.status, c.reason, "it says no")));
    auto r = f.client->Get("/api/v1/namespaces/ns/configmaps/x");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << c.status << " " << c.reason;
    EXPECT_NE(r.status().message().find("it says no"), std::string::npos);
    EXPECT_EQ(f.http->calls.size(), 1u) << "a " << c.status << " is not retried";
  }
}

TEST(ClientTest, RetriesTransportFailures429And5xxThenSucceeds) {
  auto f = Make(4);
  f.http->responses.push_back(Unavailable("connection refused"));
  f.http->responses.push_back(Resp(429, StatusBody(429, "TooManyRequests", "slow down"), 0));
  f.http->responses.push_back(Resp(503, StatusBody(503, "ServiceUnavailable", "starting")));
  f.http->responses.push_back(Resp(200, {{"kind", "ConfigMap"}}));
  auto r = f.client->Get("/api/v1/namespaces/ns/configmaps/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["kind"], "ConfigMap");
  EXPECT_EQ(f.http->calls.size(), 4u);
}

TEST(ClientTest, GivesUpAfterMaxAttempts) {
  auto f = Make(2);
  f.http->responses.push_back(Resp(500, StatusBody(500, "InternalError", "boom")));
  f.http->responses.push_back(Resp(500, StatusBody(500, "InternalError", "boom again")));
  auto r = f.client->Get("/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("boom again"), std::string::npos);
  EXPECT_EQ(f.http->calls.size(), 2u);
}

TEST(ClientTest, DeleteWhoseFirstAttemptWasLostIsDoneWhenTheObjectIsGone) {
  auto f = Make();
  f.http->responses.push_back(Unavailable("reset by peer"));
  f.http->responses.push_back(Resp(404, StatusBody(404, "NotFound", "gone")));
  EXPECT_TRUE(f.client->Delete("/x").ok());
  // Without an earlier lost attempt, NotFound stays NotFound.
  f.http->responses.push_back(Resp(404, StatusBody(404, "NotFound", "gone")));
  EXPECT_EQ(f.client->Delete("/x").code(), StatusCode::kNotFound);
}

TEST(ClientTest, ListFollowsContinueAndFillsKind) {
  auto f = Make();
  f.http->responses.push_back(Resp(200, {{"kind", "ConfigMapList"},
                                         {"apiVersion", "v1"},
                                         {"metadata", {{"resourceVersion", "7"}, {"continue", "tok en"}}},
                                         {"items", json::array({{{"metadata", {{"name", "a"}}}}})}}));
  f.http->responses.push_back(Resp(200, {{"kind", "ConfigMapList"},
                                         {"apiVersion", "v1"},
                                         {"metadata", {{"resourceVersion", "7"}}},
                                         {"items", json::array({{{"metadata", {{"name", "b"}}}}})}}));
  ListOptions o;
  o.page_size = 1;
  o.label_selector = "app=x,tier!=db";
  auto r = f.client->List("/api/v1/namespaces/ns/configmaps", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->items.size(), 2u);
  EXPECT_EQ(r->items[1]["kind"], "ConfigMap");
  EXPECT_EQ(r->items[1]["apiVersion"], "v1");
  EXPECT_EQ(r->resource_version, "7");
  ASSERT_EQ(f.http->calls.size(), 2u);
  EXPECT_EQ(f.http->calls[0].path, "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx%2Ctier%21%3Ddb&limit=1");
  EXPECT_EQ(f.http->calls[1].path,
            "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx%2Ctier%21%3Ddb&limit=1&continue=tok%20en");
}

TEST(ClientTest, DeleteCollectionSendsTheSelectorAndReturnsTheNamesDeleted) {
  auto f = Make();
  f.http->responses.push_back(Resp(200, {{"kind", "ConfigMapList"},
                                         {"items", json::array({{{"metadata", {{"name", "a-b1"}}}},
                                                                {{"metadata", {{"name", 7}}}},  // not a name
                                                                {{"metadata", {{"name", "a-b3"}}}}})}}));
  auto names = f.client->DeleteCollection("/api/v1/namespaces/ns/configmaps", "l=a,b in (1,3)");
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"a-b1", "a-b3"}));
  ASSERT_EQ(f.http->calls.size(), 1u);
  EXPECT_EQ(f.http->calls[0].method, "DELETE");
  EXPECT_EQ(f.http->calls[0].path, "/api/v1/namespaces/ns/configmaps?labelSelector=l%3Da%2Cb%20in%20%281%2C3%29");
  // An answer that is not a list is an error, not "nothing deleted".
  f.http->responses.push_back(Resp(200, {{"kind", "Status"}}));
  EXPECT_FALSE(f.client->DeleteCollection("/c", "l=a").ok());
  // Without a selector it would delete the whole collection: never sent.
  auto everything = f.client->DeleteCollection("/c", "");
  EXPECT_EQ(everything.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.http->calls.size(), 2u);
}

TEST(ClientTest, PatchAndStatusUseTheirContentTypeAndSubresource) {
  auto f = Make();
  f.http->responses.push_back(Resp(200, json::object()));
  f.http->responses.push_back(Resp(200, json::object()));
  ASSERT_TRUE(f.client->Patch("/p", {{"a", 1}}, PatchType::kMerge).ok());
  ASSERT_TRUE(f.client->UpdateStatus("/p", {{"status", {}}}).ok());
  EXPECT_EQ(f.http->calls[0].method, "PATCH");
  EXPECT_EQ(f.http->calls[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(f.http->calls[1].method, "PUT");
  EXPECT_EQ(f.http->calls[1].path, "/p/status");
}

TEST(WatchParseTest, EventsBookmarksAndErrors) {
  auto e = ParseWatchEvent(R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"9"}}})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, WatchEventType::kModified);
  EXPECT_EQ(e->object["metadata"]["name"], "a");
  auto b = ParseWatchEvent(R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"12"}}})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->type, WatchEventType::kBookmark);
  auto gone = ParseWatchEvent(
      R"J({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (50)"}})J");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(gone.status().message().find("too old"), std::string::npos);
  EXPECT_EQ(ParseWatchEvent("{not json").status().code(), StatusCode::kInternal);
  EXPECT_EQ(ParseWatchEvent(R"({"type":"SOMETHING","object":{}})").status().code(), StatusCode::kInternal);
  EXPECT_EQ(ParseWatchEvent(R"({"type":"ADDED"})").status().code(), StatusCode::kInternal);
}

std::string Line(const std::string& type, const std::string& name) {
  return json{{"type", type}, {"object", {{"metadata", {{"name", name}}}}}}.dump() + "\n";
}

TEST(ClientTest, WatchSplitsEventsAcrossArbitraryPieces) {
  auto f = Make();
  std::string stream = Line("ADDED", "a") + Line("MODIFIED", "b") + "\n" + Line("DELETED", "c");
  // One byte at a time: an event is parsed only once its line is complete.
  for (char ch : stream) f.http->stream_pieces.push_back(std::string(1, ch));
  WatchOptions o;
  o.resource_version = "5";
  o.timeout = std::chrono::seconds(60);
  std::vector<std::string> got;
  Status st = f.client->Watch("/api/v1/configmaps", o, [&](const WatchEvent& e) {
    got.push_back(e.object["metadata"]["name"]);
    return WatchControl::kContinue;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(f.http->calls[0].path,
            "/api/v1/configmaps?watch=true&resourceVersion=5&allowWatchBookmarks=true&timeoutSeconds=60");
}

TEST(ClientTest, WatchErrorEventEndsTheWatchWithItsCode) {
  auto f = Make();
  f.http->stream_pieces = {Line("ADDED", "a") +
                           json{{"type", "ERROR"}, {"object", StatusBody(410, "Expired", "too old")}}.dump() + "\n" +
                           Line("ADDED", "never")};
  WatchOptions o;
  std::vector<std::string> got;
  Status st = f.client->Watch("/w", o, [&](const WatchEvent& e) {
    got.push_back(e.object["metadata"]["name"]);
    return WatchControl::kContinue;
  });
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(got, std::vector<std::string>{"a"});
}

TEST(ClientTest, WatchCallbackCanStop) {
  auto f = Make();
  f.http->stream_pieces = {Line("ADDED", "a") + Line("ADDED", "b")};
  int n = 0;
  Status st = f.client->Watch("/w", WatchOptions{}, [&](const WatchEvent&) {
    ++n;
    return WatchControl::kStop;
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(n, 1);
}

TEST(UpdateWithRetryTest, RereadsAndRetriesOnConflict) {
  auto f = Make();
  f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"n", "0"}}}}));
  f.http->responses.push_back(Resp(409, StatusBody(409, "Conflict", "the object has been modified")));
  f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", "2"}}}, {"data", {{"n", "5"}}}}));
  f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", "3"}}}, {"data", {{"n", "6"}}}}));
  auto r = UpdateWithRetry(*f.client, "/cm", [](json& o) {
    o["data"]["n"] = std::to_string(std::stoi(o["data"]["n"].get<std::string>()) + 1);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["data"]["n"], "6");
  ASSERT_EQ(f.http->calls.size(), 4u);
  // Each write carries the version it read and the value computed from it.
  EXPECT_EQ(json::parse(f.http->calls[1].body)["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(json::parse(f.http->calls[3].body)["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(json::parse(f.http->calls[3].body)["data"]["n"], "6");
}

TEST(UpdateWithRetryTest, NoWriteWhenNothingChangesAndOtherErrorsAreReturned) {
  auto f = Make();
  f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", "1"}}}}));
  auto r = UpdateWithRetry(*f.client, "/cm", [](json&) { return false; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(f.http->calls.size(), 1u);
  f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", "1"}}}}));
  f.http->responses.push_back(Resp(422, StatusBody(422, "Invalid", "bad field")));
  auto bad = UpdateWithRetry(*f.client, "/cm", [](json&) { return true; }, /*status=*/true);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.http->calls.back().path, "/cm/status");
}

TEST(UpdateWithRetryTest, GivesUpAfterAttempts) {
  auto f = Make();
  for (int i = 0; i < 2; ++i) {
    f.http->responses.push_back(Resp(200, {{"metadata", {{"resourceVersion", std::to_string(i)}}}}));
    f.http->responses.push_back(Resp(409, StatusBody(409, "Conflict", "modified")));
  }
  auto r = UpdateWithRetry(*f.client, "/cm", [](json&) { return true; }, false, 2);
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
}

}  // namespace
}  // namespace execgov::kube
