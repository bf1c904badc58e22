// The AdmissionReview response is written by hand; these hold it to what
// nlohmann builds and dumps for the same response (its former writer, kept
// here as the reference), bytes and all, and to valid JSON whatever its
// strings hold.
#include "webhook/admission_review.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/json_fast.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

std::string Reference(const AdmissionResponse& r) {
  Json response = {{"uid", r.uid}, {"allowed", r.allowed}};
  if (!r.allowed) {
    response["status"] = {{"code", r.code}, {"message", r.message}, {"reason", "Forbidden"}};
  } else if (!r.message.empty()) {
    response["status"] = {{"code", 200}, {"message", r.message}};
  }
  if (!r.warnings.empty()) response["warnings"] = r.warnings;
  if (!r.audit_annotations.empty()) response["auditAnnotations"] = r.audit_annotations;
  Json review = {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}};
  return review.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TEST(EncodeAdmissionReview, WritesWhatNlohmannWrites) {
  const std::string odd = "quote \" backslash \\ newline \n nul " + std::string(1, '\0') + " \x7f \u00e9 \U0001F600";
  const std::string invalid_utf8 = "cut \xE2\x82 here, lone \x80, overlong \xC0\xAF";
  std::vector<AdmissionResponse> cases;
  cases.push_back({"uid-1", true, 200, "", {}, {}});
  cases.push_back({"uid-2", true, 200, "allowed with a note", {}, {{"decision", "allowed"}, {"reason", "None"}}});
  cases.push_back({"uid-3", false, 403, "execgov: DigestMismatch: " + odd, {}, {{"reason", "DigestMismatch"}}});
  cases.push_back({"", false, 500, invalid_utf8, {"warn " + odd, invalid_utf8, ""},
                   {{"ledger-seq", "17"}, {"decision", "denied"}, {"Z", invalid_utf8}, {"\u00e9", "x"}}});
  cases.push_back({invalid_utf8, true, 200, "", {"one warning"}, {{"a", ""}}});
  for (const auto& r : cases) {
    std::string got = EncodeAdmissionReview(r);
    EXPECT_EQ(got, Reference(r));
    EXPECT_TRUE(Json::accept(got)) << got;
  }
  // The uid is echoed as it came.
  EXPECT_EQ(Json::parse(EncodeAdmissionReview(cases[2]))["response"]["uid"], "uid-3");
}


// A review whose object nests `depth` levels in all (the review's own
// levels included).
std::string ReviewNested(size_t depth) {
  std::string text = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
                     R"("kind":{"group":"","version":"v1","kind":"Pod"},)"
                     R"("resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":)";
  const size_t own = 2;  // the review and its request
  text += std::string(depth - own, '[') + std::string(depth - own, ']') + "}}";
  return text;
}

TEST(DecodeAdmissionReview, NestingPastTheLimitIsRefusedNamingIt) {
  EXPECT_TRUE(DecodeAdmissionReview(ReviewNested(kMaxJsonDepth)).ok());
  for (size_t depth : {kMaxJsonDepth + 1, size_t{100000}}) {
    auto r = DecodeAdmissionReview(ReviewNested(depth));
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("deeper than 64 levels"), std::string::npos) << r.status().message();
  }
  // Larger than the fast path takes (nlohmann parses it): refused the same.
  std::string big = ReviewNested(kMaxJsonDepth + 1);
  big.insert(big.find("\"uid\""), "\"pad\":\"" + std::string(kFastJsonMaxBytes, 'p') + "\",");
  auto r = DecodeAdmissionReview(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deeper than 64 levels"), std::string::npos) << r.status().message();
}

TEST(DecodeAdmissionReview, BytesAfterTheDocumentAreRefused) {
  const std::string review = ReviewNested(3);
  ASSERT_TRUE(DecodeAdmissionReview(review).ok());
  EXPECT_TRUE(DecodeAdmissionReview(review + " \r\n\t").ok());
  for (const std::string& tail : {std::string(1, '\0'), std::string(1, '\0') + "{}", std::string("x"), std::string("{}")}) {
    EXPECT_FALSE(DecodeAdmissionReview(review + tail).ok()) << tail.size();
    std::string padded = review;  // also past the fast path's size
    padded.insert(padded.find("\"uid\""), "\"pad\":\"" + std::string(kFastJsonMaxBytes, 'p') + "\",");
    EXPECT_FALSE(DecodeAdmissionReview(padded + tail).ok()) << tail.size();
  }
}
}  // namespace
}  // namespace execgov::webhook

namespace execgov::webhook {
namespace {

// Of the old object's status only the phase is kept (an ended
// ExecutionRequest refuses an artifact by it); the new object's status and
// both managedFields are left out, whichever parse reads the review.
TEST(DecodeAdmissionReview, KeepsOnlyTheOldObjectsPhase) {
  for (const std::string& pad : {std::string(), std::string(70 * 1024, ' ')}) {  // the fast parse, and nlohmann's
    const std::string body =
        R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
        R"("kind":{"group":"execgov.io","version":"v1alpha1","kind":"ExecutionRequest"},)"
        R"("resource":{"group":"execgov.io","version":"v1alpha1","resource":"executionrequests"},"operation":"UPDATE",)"
        R"("object":{"metadata":{"name":"r","managedFields":[{}]},"status":{"phase":"Running"}},)"
        R"("oldObject":{"metadata":{"name":"r","managedFields":[{}]},"status":{"phase":"Denied",)"
        R"("conditions":[{"type":"Authorized"}],"authorization":{"rule":"x"}}}}})" + pad;
    auto r = DecodeAdmissionReview(body);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->old_object["status"], Json({{"phase", "Denied"}}));
    EXPECT_FALSE(r->object.contains("status"));
    EXPECT_FALSE(r->old_object["metadata"].contains("managedFields"));
  }
  // A phase that is not a string, or no phase: no status at all.
  auto r = DecodeAdmissionReview(
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},)"
      R"("operation":"UPDATE","object":{},"oldObject":{"status":{"phase":7,"podIP":"10.0.0.1"}}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->old_object.contains("status"));
}

}  // namespace
}  // namespace execgov::webhook
