#include "webhook/admission_review.h"

#include "api/object.h"
#include "core/json_fast.h"
#include "core/json_string.h"

namespace execgov::webhook {
namespace {

std::string Str(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// What the API server sends that no decision reads, left out of the decoded
// objects: the field managers' bookkeeping (a quarter of a real Pod's or
// Job's review, and most of its small JSON objects) and the status (the
// webhook is registered for the objects, not their status subresource) but
// for the old object's status.phase: an artifact attached to an
// ExecutionRequest that already ended (Denied, Expired) is refused by it
// (issue 20). The bulky parts of an old Pod's status are left out here; the
// rest of the old status is dropped after the parse (KeepOldPhaseOnly).
const std::vector<JsonPath>& Unread() {
  static const std::vector<JsonPath> paths = {
      {"request", "object", "metadata", "managedFields"}, {"request", "oldObject", "metadata", "managedFields"},
      {"request", "object", "status"}, {"request", "oldObject", "status", "conditions"},
      {"request", "oldObject", "status", "containerStatuses"},
      {"request", "oldObject", "status", "initContainerStatuses"},
      {"request", "oldObject", "status", "ephemeralContainerStatuses"}};
  return paths;
}

void EraseUnread(Json& review) {
  for (const JsonPath& path : Unread()) {
    Json* at = &review;
    for (size_t i = 0; at != nullptr && i + 1 < path.size(); ++i) {
      auto it = at->is_object() ? at->find(std::string(path[i])) : at->end();
      at = it != at->end() ? &*it : nullptr;
    }
    if (at != nullptr && at->is_object()) at->erase(std::string(path.back()));
  }
}

// The old object's status becomes {phase} (when phase is a string) or goes.
void KeepOldPhaseOnly(Json& old_object) {
  if (!old_object.is_object()) return;
  auto status = old_object.find("status");
  if (status == old_object.end()) return;
  Json phase;
  if (status->is_object()) {
    if (auto p = status->find("phase"); p != status->end() && p->is_string()) phase = std::move(*p);
  }
  if (phase.is_string()) {
    *status = Json{{"phase", std::move(phase)}};
  } else {
    old_object.erase(status);
  }
}

}  // namespace

StatusOr<AdmissionRequest> DecodeAdmissionReview(std::string_view body) {
  // Before any value exists: nesting past kMaxJsonDepth and a NUL (which
  // nlohmann's parse takes for the end of the text) are refused here.
  if (Status st = CheckJsonLimits(body); !st.ok()) return InvalidArgument("the request body: " + st.message());
  // Plain parse (duplicate members tolerated, last wins, as the API server's
  // own decoder does); the artifact inside is parsed strictly later. The
  // fast parse gives nlohmann's value or nothing; nlohmann decides the rest.
  std::optional<Json> fast = ParseJsonFastOmitting(body, Unread());
  Json review =
      fast ? std::move(*fast) : Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) return InvalidArgument("the request body is not JSON");
  if (!fast) EraseUnread(review);  // the same value, whichever parse gave it
  if (!review.is_object()) return InvalidArgument("the request body is not a JSON object");
  if (Str(review, "kind") != "AdmissionReview") return InvalidArgument("the request body is not an AdmissionReview");
  std::string api_version = Str(review, "apiVersion");
  if (api_version != "admission.k8s.io/v1") {
    return InvalidArgument("AdmissionReview apiVersion \"" + api_version + "\" is not supported; use admission.k8s.io/v1");
  }
  auto req = review.find("request");
  if (req == review.end() || !req->is_object()) return InvalidArgument("the AdmissionReview has no request");
  AdmissionRequest out;
  out.uid = Str(*req, "uid");
  if (out.uid.empty()) return InvalidArgument("the AdmissionReview request has no uid");
  // The resource decides what is governed; the API server always sends it
  // (group "" is the core group, so only version and resource must be set).
  auto resource = req->find("resource");
  if (resource != req->end() && resource->is_object()) {
    out.resource = {Str(*resource, "group"), Str(*resource, "version"), Str(*resource, "resource")};
  }
  if (out.resource.version.empty() || out.resource.resource.empty()) {
    return InvalidArgument("the AdmissionReview request has no resource ({group, version, resource})");
  }
  out.sub_resource = Str(*req, "subResource");
  auto gvk = [&](const char* key) -> std::optional<GroupVersionKind> {
    auto it = req->find(key);
    if (it == req->end() || !it->is_object()) return std::nullopt;
    GroupVersionKind k{Str(*it, "group"), Str(*it, "version"), Str(*it, "kind")};
    if (k.kind.empty()) return std::nullopt;
    return k;
  };
  auto kind = gvk("kind");
  if (!kind) return InvalidArgument("the AdmissionReview request has no kind ({group, version, kind})");
  out.kind = std::move(*kind);
  if (auto it = req->find("requestKind"); it != req->end() && !it->is_null()) {
    out.request_kind = gvk("requestKind");
    if (!out.request_kind) return InvalidArgument("the AdmissionReview request's requestKind has no kind");
  }
  out.ns = Str(*req, "namespace");
  out.name = Str(*req, "name");
  auto op = policy::ParseOperation(Str(*req, "operation"));
  if (!op) return InvalidArgument("the AdmissionReview request has no valid operation");
  out.operation = *op;
  if (req->contains("userInfo") && (*req)["userInfo"].is_object()) {
    const Json& ui = (*req)["userInfo"];
    out.user = Str(ui, "username");
    if (ui.contains("groups") && ui["groups"].is_array()) {
      for (const auto& g : ui["groups"]) {
        if (g.is_string()) out.groups.push_back(g.get<std::string>());
      }
    }
  }
  out.dry_run = req->contains("dryRun") && (*req)["dryRun"].is_boolean() && (*req)["dryRun"].get<bool>();
  // Moved, not copied: the review is discarded, and the object is most of it.
  if (auto o = req->find("object"); o != req->end()) out.object = std::move(*o);
  if (auto o = req->find("oldObject"); o != req->end()) out.old_object = std::move(*o);
  KeepOldPhaseOnly(out.old_object);
  // The object's own metadata names it when the request does not (generateName).
  if (out.name.empty() && out.object.is_object()) {
    out.name = api::NameOf(out.object);
  }
  return out;
}

std::string EncodeAdmissionReview(const AdmissionResponse& r) {
  // Written directly, members in the order nlohmann's object (a std::map)
  // gave them, where building that object and dumping it was ~3% of a
  // cache-hit admission. Strings may hold anything a request or a message
  // carried; invalid UTF-8 is replaced, as the dump replaced it.
  auto str = [](std::string_view s, std::string* out) { AppendJsonStringReplacingInvalid(s, out); };
  std::string out = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"allowed":)";
  out += r.allowed ? "true" : "false";
  if (!r.audit_annotations.empty()) {
    out += R"(,"auditAnnotations":{)";
    bool first = true;
    for (const auto& [k, v] : r.audit_annotations) {  // sorted, as nlohmann's object is
      if (!first) out += ',';
      first = false;
      str(k, &out);
      out += ':';
      str(v, &out);
    }
    out += '}';
  }
  if (!r.allowed || !r.message.empty()) {
    out += R"(,"status":{"code":)";
    out += std::to_string(r.allowed ? 200 : r.code);
    out += R"(,"message":)";
    str(r.message, &out);
    if (!r.allowed) out += R"(,"reason":"Forbidden")";
    out += '}';
  }
  out += R"(,"uid":)";
  str(r.uid, &out);
  if (!r.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (size_t i = 0; i < r.warnings.size(); ++i) {
      if (i > 0) out += ',';
      str(r.warnings[i], &out);
    }
    out += ']';
  }
  out += "}}";
  return out;
}

}  // namespace execgov::webhook
