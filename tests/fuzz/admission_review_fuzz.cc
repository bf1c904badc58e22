// The webhook's door: a request body, decoded as the HTTPS server decodes it
// (DecodeAdmissionReview), then decided (policy::Decide) with the captured
// policy and a fixed clock, and the answer encoded. Nothing may crash, and
// the one policy being Enforce, a governed CREATE may be allowed only by an
// artifact that passed every check and whose scope digest is the object's.
//
// The request -> attributes step mirrors AdmissionHandler::HandleImpl
// without its ledger and replay store; the handler's own mapping of the
// resource to a governed kind (GovernedKindOf, KindConflict) is not reached
// here (it lives with the ledger writer), so the kind given to Decide is the
// request's kind.kind, which Decide must check against the object itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "api/object.h"
#include "fuzz/fuzz_policy.h"
#include "webhook/admission_review.h"

using namespace execgov;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto req = webhook::DecodeAdmissionReview(body);
  if (!req.ok()) return 0;

  policy::AdmissionAttributes a;
  a.kind = req->kind.kind;
  a.operation = req->operation;
  a.ns = req->ns;
  a.name = req->name;
  a.uid = api::UidOf(req->object.is_null() ? req->old_object : req->object);
  a.object = req->object.is_null() ? nullptr : &req->object;
  a.old_object = req->old_object.is_null() ? nullptr : &req->old_object;
  a.user = req->user;
  a.groups = req->groups;
  a.dry_run = req->dry_run;
  policy::Decision d = fuzz::DecideCaptured(a);
  if (d.allowed && d.governed && a.operation == policy::Operation::kCreate &&
      (!d.verified || !d.artifact || d.artifact->digest != d.object_digest)) {
    std::fprintf(stderr, "a governed CREATE allowed without a verified artifact for its scope: %s\n",
                 d.message.c_str());
    std::abort();
  }

  webhook::AdmissionResponse resp;
  resp.uid = req->uid;
  resp.allowed = d.allowed;
  resp.code = d.allowed ? 200 : 403;
  resp.message = d.StatusMessage();
  resp.warnings = d.warnings;
  std::string out = webhook::EncodeAdmissionReview(resp);
  if (out.empty()) std::abort();
  return 0;
}
