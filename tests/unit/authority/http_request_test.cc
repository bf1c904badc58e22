// The request parser of execgov authority's HTTPS endpoint
// (authority/http_request.h): who asks is checked before the body is read,
// and only a named Pod or Job with no artifact yet is taken.
#include "authority/http_request.h"

#include <gtest/gtest.h>

#include "api/execution_scope.h"

namespace execgov::authority {
namespace {

constexpr char kJob[] =
    R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"rotate","namespace":"agents"},)"
    R"("spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"r","image":"registry.example.com/tools/rotate:1"}]}}}})";

struct Sent {
  std::string method = "POST", target = "/v1/authorize", content_type = "application/json";
  std::string authorization = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", body = kJob;
};

std::pair<std::optional<AuthorizeCall>, CallError> Parse(const Sent& s) {
  CallError e;
  auto call = ParseAuthorizeCall(s.method, s.target, s.content_type, s.authorization, s.body, &e);
  return {std::move(call), e};
}

TEST(AuthorizeCallTest, TakesANamedJobWithItsDigestAndImages) {
  Sent s;
  s.target = "/v1/authorize?dryRun=false";  // a query is ignored
  s.content_type = "application/json; charset=utf-8";
  auto [call, error] = Parse(s);
  ASSERT_TRUE(call) << error.message;
  EXPECT_EQ(call->kind, api::GovernedKind::kJob);
  EXPECT_EQ(call->ns, "agents");
  EXPECT_EQ(call->name, "rotate");
  EXPECT_EQ(call->token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln");
  EXPECT_EQ(call->images, std::vector<std::string>{"registry.example.com/tools/rotate:1"});
  EXPECT_EQ(call->digest, api::ExecutionScopeDigest(api::GovernedKind::kJob, call->manifest).value());
}

TEST(AuthorizeCallTest, RefusesWithTheRightStatus) {
  struct Case {
    std::string what;
    Sent sent;
    int status;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, int status, auto edit) {
    Sent s;
    edit(s);
    cases.push_back({std::move(what), s, status});
  };
  add("another path", 404, [](Sent& s) { s.target = "/validate"; });
  add("GET", 405, [](Sent& s) { s.method = "GET"; });
  add("no token", 401, [](Sent& s) { s.authorization = ""; });
  add("Basic", 401, [](Sent& s) { s.authorization = "Basic YTpi"; });
  add("a token with a space", 401, [](Sent& s) { s.authorization = "Bearer a b"; });
  add("a token past 8 KiB", 401, [](Sent& s) { s.authorization = "Bearer " + std::string(8193, 'a'); });
  // Who asks first: a bad body without a token is still a 401.
  add("no token, bad body", 401, [](Sent& s) { s.authorization = ""; s.body = "{"; });
  add("YAML", 415, [](Sent& s) { s.content_type = "application/yaml"; });
  add("application/jsonx", 415, [](Sent& s) { s.content_type = "application/jsonx"; });
  add("not JSON", 400, [](Sent& s) { s.body = "kind: Job"; });
  add("nested too deep", 400, [](Sent& s) { s.body = std::string(100, '[') + std::string(100, ']'); });
  add("duplicate keys", 400, [](Sent& s) { s.body = R"({"kind":"Job","kind":"Pod"})"; });
  add("an array", 400, [](Sent& s) { s.body = "[]"; });
  add("a Deployment", 400, [](Sent& s) { s.body = R"({"apiVersion":"apps/v1","kind":"Deployment"})"; });
  add("a Job of another group", 400, [](Sent& s) { s.body = std::string(kJob).replace(15, 8, "batch/v2"); });
  add("an ExecutionRequest", 400, [](Sent& s) {
    s.body = R"({"apiVersion":"execgov.io/v1alpha1","kind":"ExecutionRequest","metadata":{"name":"a","namespace":"b"}})";
  });
  add("no namespace", 400, [](Sent& s) {
    s.body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}})";
  });
  add("generateName only", 400, [](Sent& s) {
    s.body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"a-","namespace":"n"},"spec":{"containers":[]}})";
  });
  add("an artifact already", 400, [](Sent& s) {
    s.body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"n","annotations":)"
             R"({"execgov.io/authorization":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}})";
  });
  for (const auto& c : cases) {
    auto [call, error] = Parse(c.sent);
    EXPECT_FALSE(call) << c.what;
    EXPECT_EQ(error.status, c.status) << c.what << ": " << error.message;
    EXPECT_FALSE(error.message.empty()) << c.what;
    EXPECT_EQ(error.message.find("eyJ"), std::string::npos) << c.what << ": the token is never repeated";
  }
}

// GET /v1/authorize/requests/<namespace>/<name>: the caller's poll of a
// relayed request.
TEST(PollCallTest, TakesANamespaceAndNameAndTheToken) {
  CallError e;
  auto poll = ParsePollCall("GET", "/v1/authorize/requests/agents/rotate-x7k2p?wait=1", "Bearer abc.def", &e);
  ASSERT_TRUE(poll) << e.message;
  EXPECT_EQ(poll->ns, "agents");
  EXPECT_EQ(poll->name, "rotate-x7k2p");
  EXPECT_EQ(poll->token, "abc.def");
  EXPECT_TRUE(IsPollTarget("/v1/authorize/requests/agents/x"));
  EXPECT_FALSE(IsPollTarget("/v1/authorize"));
  EXPECT_FALSE(IsPollTarget("/v1/authorize/request"));
}

TEST(PollCallTest, RefusesWhatNamesNoRequestAnotherMethodAndNoToken) {
  for (const char* target : {"/v1/authorize/requests/", "/v1/authorize/requests/agents", "/v1/authorize/requests/agents/",
                             "/v1/authorize/requests/agents/a/b", "/v1/authorize/requests/Agents/a",
                             "/v1/authorize/requests/agents/../x", "/v1/authorize/requests//a"}) {
    CallError e;
    EXPECT_FALSE(ParsePollCall("GET", target, "Bearer abc", &e)) << target;
    EXPECT_EQ(e.status, 404) << target;
  }
  CallError e;
  std::string long_ns = "/v1/authorize/requests/" + std::string(64, 'a') + "/x";
  EXPECT_FALSE(ParsePollCall("GET", long_ns, "Bearer abc", &e));
  EXPECT_EQ(e.status, 404);
  EXPECT_FALSE(ParsePollCall("POST", "/v1/authorize/requests/agents/x", "Bearer abc", &e));
  EXPECT_EQ(e.status, 405);
  for (const char* authorization : {"", "Basic YTpi", "Bearer ", "Bearer a b"}) {
    EXPECT_FALSE(ParsePollCall("GET", "/v1/authorize/requests/agents/x", authorization, &e)) << authorization;
    EXPECT_EQ(e.status, 401);
    EXPECT_EQ(e.message.find("YTpi"), std::string::npos);
  }
}

}  // namespace
}  // namespace execgov::authority
