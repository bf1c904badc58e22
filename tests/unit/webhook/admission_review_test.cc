// The AdmissionReview response is written by hand; these hold it to what
// nlohmann builds and dumps for the same response (its former writer, kept
// here as the reference), bytes and all, and to valid JSON whatever its
// strings hold.
#include "webhook/admission_review.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace execgov::webhook
