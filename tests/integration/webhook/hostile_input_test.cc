// A hostile client on the network against `execgov serve` over real HTTPS on
// free loopback ports: every limit of the HTTP layer and the decoder
// (docs/webhook.md) is answered with its status, and afterwards the server
// still answers /healthz and a valid review. Then several attacks at once
// while a normal client's requests all succeed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "api/manifest.h"
#include "api/object.h"
#include "crypto/encoding.h"
#include "support/artifact_factory.h"
#include "support/server_process.h"
#include "support/subprocess.h"
#include "support/tls_client.h"

namespace execgov {
namespace {

using Json = nlohmann::json;
using testing::Authority;
using testing::HttpResponse;
using testing::TlsConnection;

// The limits as docs/webhook.md states them; the tests fail if the server's differ.
constexpr int kDepthLimit = 64;
constexpr int kHeaderFieldLimit = 64;
constexpr int kHeaderByteLimit = 16 * 1024;
constexpr int kChunkExtensionLimit = 1024;

// The deepest nesting of arrays and objects in a JSON text, counted here on
// its own (outside strings) so the test does not reuse the server's count.
int DepthOf(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    if (c == ']' || c == '}') --depth;
  }
  return deepest;
}

// CPU seconds the process has used (utime + stime, /proc/PID/stat).
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

class HostileInputTest : public ::testing::Test {
 protected:
  static inline testing::TempDir* dir_;
  static inline Authority* auth_;
  static inline testing::ServeProcess* server_;

  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);  // the server closes on clients still writing
    dir_ = new testing::TempDir();
    auth_ = new Authority(Authority::Make());
    std::filesystem::create_directories(dir_->File("policies"));
    Json policy = testing::MakePolicy("default", {auth_});
    policy["spec"]["match"]["namespaces"] = {"agents"};
    dir_->Write("policies/default.yaml", api::EmitYaml({policy}));
    server_ = new testing::ServeProcess(dir_->File("policies"), dir_->File("state"));
  }

  static void TearDownTestSuite() {
    delete server_;
    delete auth_;
    delete dir_;
  }

  void SetUp() override { ASSERT_TRUE(server_->started()) << dir_->Read("state/serve.log"); }

  static Json SignedJob() {
    Json job = testing::MakeJob("agents", "rotate");
    job["metadata"]["uid"] = crypto::HexEncode(crypto::RandomBytes(8));
    return testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, *auth_, std::time(nullptr)), *auth_));
  }

  static Json Review(const Json& object) {
    Json req = {{"uid", crypto::HexEncode(crypto::RandomBytes(8))},
                {"kind", {{"group", "batch"}, {"version", "v1"}, {"kind", "Job"}}},
                {"resource", {{"group", "batch"}, {"version", "v1"}, {"resource", "jobs"}}},
                {"name", api::NameOf(object)},
                {"namespace", api::NamespaceOf(object)},
                {"operation", "CREATE"},
                {"userInfo", {{"username", "agent:test"}}},
                {"object", object}};
    return {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", req}};
  }

  static std::unique_ptr<TlsConnection> Connect(testing::ServeProcess* server = nullptr) {
    server = server ? server : server_;
    std::string error;
    auto c = TlsConnection::Connect(server->port(), server->ca_file(), &error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  // One request on a connection of its own; its response, status 0 if none came.
  static HttpResponse Exchange(const std::string& request, int timeout_ms = 10000) {
    HttpResponse r;
    auto c = Connect();
    // Read even when the send failed: the server answers a limit and closes
    // without reading the rest.
    if (c) {
      c->Send(request);
      c->Read(&r, timeout_ms);
    }
    return r;
  }

  static std::string PostHead(const std::string& extra = "") {
    return "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra;
  }

  // A valid review is allowed, and the ops port answers.
  static void ExpectStillServing(testing::ServeProcess* server = nullptr) {
    server = server ? server : server_;
    std::string body;
    EXPECT_EQ(server->OpsGet("/healthz", &body), 200);
    auto c = Connect(server);
    ASSERT_TRUE(c);
    HttpResponse r;
    ASSERT_TRUE(c->Post("/validate", Review(SignedJob()).dump(), &r));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(Json::parse(r.body)["response"]["allowed"].get<bool>()) << r.body;
  }

  // A review whose containers[0].args nest `extra` more arrays, and its depth.
  static std::string DeepReview(int extra, int* depth = nullptr) {
    Json job = SignedJob();
    job["spec"]["template"]["spec"]["containers"][0]["args"] = {"@DEEP@"};
    std::string text = Review(job).dump();
    size_t at = text.find("\"@DEEP@\"");
    text.replace(at, 8, std::string(static_cast<size_t>(extra), '[') + std::string(static_cast<size_t>(extra), ']'));
    if (depth) *depth = DepthOf(text);
    return text;
  }
};

TEST_F(HostileInputTest, NestingPastTheLimitIsA400NamingIt) {
  // Exactly at the limit: decoded and decided (a denial, the digest having
  // changed under the artifact, but a 200).
  int depth = 0;
  std::string base = DeepReview(0, &depth);
  ASSERT_LT(depth, kDepthLimit);
  std::string at_limit = DeepReview(kDepthLimit - depth, &depth);
  ASSERT_EQ(depth, kDepthLimit);
  auto c = Connect();
  ASSERT_TRUE(c);
  HttpResponse r;
  ASSERT_TRUE(c->Post("/validate", at_limit, &r));
  EXPECT_EQ(r.status, 200) << r.body;

  std::string over = DeepReview(kDepthLimit + 1 - DepthOf(base), &depth);
  ASSERT_EQ(depth, kDepthLimit + 1);
  ASSERT_TRUE(c->Post("/validate", over, &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper than 64 levels"), std::string::npos) << r.body;

  // The campaign's crash: 100,000 arrays deep (~200 KB), also in oldObject.
  std::string deepest = DeepReview(100000);
  ASSERT_TRUE(c->Post("/validate", deepest, &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper than 64 levels"), std::string::npos) << r.body;
  Json review = Review(SignedJob());
  review["request"]["oldObject"] = "@DEEP@";
  std::string old = review.dump();
  // An unterminated run of arrays is refused by depth before it is found
  // not to be JSON.
  old.replace(old.find("\"@DEEP@\""), 8, std::string(100000, '['));
  ASSERT_TRUE(c->Post("/validate", old, &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper than 64 levels"), std::string::npos) << r.body;
  ExpectStillServing();
}

TEST_F(HostileInputTest, TrailingBytesAfterTheDocumentAreA400) {
  std::string body = Review(SignedJob()).dump();
  auto c = Connect();
  ASSERT_TRUE(c);
  HttpResponse r;
  ASSERT_TRUE(c->Post("/validate", body + std::string(1, '\0'), &r));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("NUL"), std::string::npos) << r.body;
  ASSERT_TRUE(c->Post("/validate", body + "x", &r));
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(c->Post("/validate", body + "{}", &r));
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(c->Post("/validate", body + " \n", &r));  // whitespace is JSON's own
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectStillServing();
}

TEST_F(HostileInputTest, TooManyOrTooLargeHeadersAreA431) {
  std::string fields;
  for (int i = 0; i < kHeaderFieldLimit + 1; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
  HttpResponse r = Exchange(PostHead(fields) + "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 431) << r.body;
  EXPECT_NE(r.body.find("64"), std::string::npos) << r.body;

  r = Exchange(PostHead("X-Big: " + std::string(kHeaderByteLimit, 'a') + "\r\n") + "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 431) << r.body;
  EXPECT_NE(r.body.find("16384"), std::string::npos) << r.body;
  ExpectStillServing();
}

TEST_F(HostileInputTest, ChunkedBodiesAreBounded) {
  std::string body = Review(SignedJob()).dump();
  auto chunked = [&](const std::string& ext, const std::string& trailers) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", body.size());
    return PostHead("Transfer-Encoding: chunked\r\n") + "\r\n" + size + ext + "\r\n" + body + "\r\n0\r\n" + trailers +
           "\r\n";
  };
  // A chunked review within the limits is answered as any other.
  HttpResponse r = Exchange(chunked(";a=b", "X-T: 1\r\n"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json::parse(r.body)["response"]["allowed"].get<bool>());

  // One chunk extension past the limit, and many small ones that add up past it.
  r = Exchange(chunked(";a=" + std::string(kChunkExtensionLimit + 1, 'x'), ""));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("chunk extensions"), std::string::npos) << r.body;
  std::string many = PostHead("Transfer-Encoding: chunked\r\n") + "\r\n";
  for (int i = 0; i < 40; ++i) many += "1;ext=" + std::string(40, 'e') + "\r\n" + " \r\n";
  r = Exchange(many);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("chunk extensions"), std::string::npos) << r.body;
  // The campaign's 1 MiB extension: refused once the read-ahead buffer is full.
  r = Exchange(PostHead("Transfer-Encoding: chunked\r\n") + "\r\n1;a=" + std::string(1 << 20, 'x'));
  EXPECT_EQ(r.status, 400);

  // Trailers: past the field count (the campaign sent 10,000), and past the size.
  std::string trailers;
  for (int i = 0; i < kHeaderFieldLimit; ++i) trailers += "X-T" + std::to_string(i) + ": v\r\n";
  r = Exchange(chunked("", trailers));
  EXPECT_EQ(r.status, 431) << r.body;
  EXPECT_NE(r.body.find("trailer"), std::string::npos) << r.body;
  r = Exchange(chunked("", "X-T: " + std::string(kHeaderByteLimit, 't') + "\r\n"));
  EXPECT_EQ(r.status, 431) << r.body;

  // A chunk larger than the body limit is refused from its size line.
  r = Exchange(PostHead("Transfer-Encoding: chunked\r\n") + "\r\n400000\r\n{");
  EXPECT_EQ(r.status, 413) << r.body;
  // Malformed chunking.
  r = Exchange(PostHead("Transfer-Encoding: chunked\r\n") + "\r\nzz\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 400) << r.body;
  ExpectStillServing();
}

// Whatever a request carries, its ledger record stays under the documented
// size (docs/ledger.md): every copied field is cut with a marker, and an
// artifact whose jti would be cut is never allowed.
TEST_F(HostileInputTest, ALedgerRecordStaysBoundedWhateverTheRequestCarries) {
  // Control characters, six bytes each once escaped: the body stays under 3 MiB.
  const std::string huge = std::string(20000, '\x01');
  Json job = testing::MakeJob("agents", "rotate");
  job["metadata"]["uid"] = huge;
  Json claims = testing::ClaimsFor(job, *auth_, std::time(nullptr));
  claims["scope"].erase("name");          // so the request's name may be anything
  claims["jti"] = std::string(300, 'j');  // validly signed, but too long to record whole
  claims["sub"] = "agent:" + huge;
  Json signed_job = testing::WithArtifact(job, testing::Sign(claims, *auth_));
  Json review = Review(signed_job);
  review["request"]["name"] = huge;
  review["request"]["userInfo"]["username"] = huge;
  Json elsewhere = review;  // a namespace no policy matches: denied and recorded too
  elsewhere["request"]["namespace"] = huge;
  elsewhere["request"]["object"]["metadata"]["namespace"] = huge;

  auto c = Connect();
  ASSERT_TRUE(c);
  std::vector<std::string> messages;
  for (const Json& r : {review, elsewhere}) {
    HttpResponse resp;
    ASSERT_TRUE(c->Post("/validate", r.dump(), &resp));
    ASSERT_EQ(resp.status, 200) << resp.body.substr(0, 500);
    Json answer = Json::parse(resp.body);
    EXPECT_FALSE(answer["response"]["allowed"].get<bool>());
    messages.push_back(answer["response"]["status"].value("message", ""));
    EXPECT_TRUE(answer["response"]["auditAnnotations"].contains("ledger-seq")) << resp.body.substr(0, 500);
  }
  std::ifstream in(dir_->File("state/ledger.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 2u);
  size_t largest = 0;
  for (const auto& line : lines) largest = std::max(largest, line.size());
  EXPECT_LE(largest, size_t{32 * 1024 + 256});
  Json first = Json::parse(lines[lines.size() - 2]);
  ASSERT_EQ(first["reason"], "MalformedArtifact") << messages[0];
  EXPECT_NE(messages[0].find("jti is longer than 256 bytes"), std::string::npos) << messages[0];
  EXPECT_EQ(first["artifact"]["jti"].get<std::string>().size(), 256u);
  EXPECT_NE(first["artifact"]["jti"].get<std::string>().find("[truncated, 300 bytes]"), std::string::npos);
  EXPECT_EQ(first["object"]["name"].get<std::string>().size(), 253u);
  EXPECT_NE(first["user"].get<std::string>().find("[truncated, 20000 bytes]"), std::string::npos);
  Json second = Json::parse(lines.back());
  EXPECT_EQ(second["object"]["namespace"].get<std::string>().size(), 63u);
  ExpectStillServing();
}

// Past --max-connections new connections wait in the backlog, the server
// does not spin, and the first to close lets the next in.
TEST_F(HostileInputTest, ConnectionsPastTheCapWaitWithoutSpinning) {
  constexpr int kCap = 4;
  testing::ServeProcess capped(dir_->File("policies"), dir_->File("capped-state"),
                               {"--max-connections", std::to_string(kCap)});
  ASSERT_TRUE(capped.started()) << dir_->Read("capped-state/serve.log");
  std::vector<std::unique_ptr<TlsConnection>> held;
  for (int i = 0; i < kCap; ++i) {
    held.push_back(Connect(&capped));
    ASSERT_TRUE(held.back());
  }
  // Twenty more: accepted by the kernel's backlog, not by the server.
  std::vector<int> waiting;
  for (int i = 0; i < 20; ++i) waiting.push_back(testing::ConnectLoopback(capped.port()));
  double cpu0 = CpuSeconds(capped.pid());
  auto next = std::async(std::launch::async, [&] {
    std::string error;
    return TlsConnection::Connect(capped.port(), capped.ca_file(), &error, 0, 0, /*handshake_timeout_ms=*/15000);
  });
  EXPECT_EQ(next.wait_for(std::chrono::seconds(1)), std::future_status::timeout) << "a connection past the cap was served";
  double cpu = CpuSeconds(capped.pid()) - cpu0;
  EXPECT_LT(cpu, 0.2) << "the server used " << cpu << " s of CPU in a second while full";

  for (int fd : waiting) ::close(fd);  // the backlog's own: each takes a slot and gives it back
  held.erase(held.begin());            // a slot frees up: the waiting client gets in
  ASSERT_EQ(next.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  auto admitted = next.get();
  ASSERT_TRUE(admitted);
  HttpResponse r;
  ASSERT_TRUE(admitted->Post("/validate", Review(SignedJob()).dump(), &r));
  EXPECT_EQ(r.status, 200) << r.body;
  admitted.reset();
  held.clear();
  ExpectStillServing(&capped);
}

// Slowloris, abandoned connections and oversized chunks at once, while a
// normal client's requests all succeed, each promptly.
TEST_F(HostileInputTest, ANormalClientIsServedUnderAttack) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  // Slowloris: TLS connections sending their header a byte at a time.
  for (int i = 0; i < 4; ++i) {
    attackers.emplace_back([&] {
      std::vector<std::unique_ptr<TlsConnection>> conns;
      for (int j = 0; j < 10; ++j) {
        std::string error;
        if (auto c = TlsConnection::Connect(server_->port(), server_->ca_file(), &error)) conns.push_back(std::move(c));
      }
      const std::string head = PostHead();
      for (size_t at = 0; !stop && at < head.size(); ++at) {
        for (auto& c : conns) c->Send(head.substr(at, 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }
  // Abandoned: TCP connections that never say anything, and TLS ones that
  // stop halfway through a body.
  std::vector<int> abandoned;
  for (int i = 0; i < 30; ++i) abandoned.push_back(testing::ConnectLoopback(server_->port()));
  std::vector<std::unique_ptr<TlsConnection>> halfway;
  for (int i = 0; i < 10; ++i) {
    if (auto c = Connect()) {
      c->Send(PostHead() + "Content-Length: 100000\r\n\r\n{\"apiVersion\":");
      halfway.push_back(std::move(c));
    }
  }
  // Oversized chunks and extensions, over and over.
  std::atomic<int> refused{0};
  attackers.emplace_back([&] {
    for (int i = 0; !stop && i < 200; ++i) {
      HttpResponse r = Exchange(PostHead("Transfer-Encoding: chunked\r\n") +
                                (i % 2 ? "\r\n400000\r\n{" : "\r\n1;a=" + std::string(100000, 'x')), 5000);
      if (r.status == 413 || r.status == 400) ++refused;
    }
  });

  int served = 0;
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < 20; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto c = Connect();
    ASSERT_TRUE(c);
    HttpResponse r;
    ASSERT_TRUE(c->Post("/validate", Review(SignedJob()).dump(), &r)) << "request " << i;
    ASSERT_EQ(r.status, 200) << r.body;
    served += Json::parse(r.body)["response"]["allowed"].get<bool>();
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
  }
  stop = true;
  for (auto& t : attackers) t.join();
  for (int fd : abandoned) ::close(fd);
  EXPECT_EQ(served, 20);
  EXPECT_LT(slowest, std::chrono::seconds(3));
  EXPECT_GT(refused.load(), 0);
  ExpectStillServing();
}

}  // namespace
}  // namespace execgov
