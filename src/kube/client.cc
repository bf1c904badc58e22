#include "kube/client.h"

#include "kube/http.h"

namespace execgov::kube {
namespace {

using nlohmann::json;

Status FromResponse(const std::string& what, const HttpResponse& r) {
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  std::string reason = body.is_object() ? body.value("reason", "") : "";
  std::string message = what + ": HTTP " + std::to_string(r.status) + ": " +
                        (body.is_object() ? body.value("message", r.body) : r.body);
  switch (r.status) {
    case 404: return NotFound(message);
    case 409: return reason == "AlreadyExists" ? AlreadyExists(message) : Aborted(message);
    case 401:
    case 403: return PermissionDenied(message);
    case 400:
    case 422: return InvalidArgument(message);
    default: break;
  }
  if (r.status == 429 || r.status >= 500) return Unavailable(message);
  return Internal(message);
}

class RestClient final : public Client {
 public:
  explicit RestClient(std::unique_ptr<HttpClient> http) : http_(std::move(http)) {}

  StatusOr<json> Get(const std::string& path) override { return Do("GET", path, ""); }
  StatusOr<json> Create(const std::string& path, const json& object) override { return Do("POST", path, object.dump()); }
  StatusOr<json> Update(const std::string& path, const json& object) override { return Do("PUT", path, object.dump()); }
  Status Delete(const std::string& path) override { return Do("DELETE", path, "").status(); }

 private:
  StatusOr<json> Do(const std::string& method, const std::string& path, const std::string& body) {
    EXECGOV_ASSIGN_OR_RETURN(HttpResponse r, http_->Request(method, path, body));
    if (r.status < 200 || r.status > 299) return FromResponse(method + " " + path, r);
    json out = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded()) return Internal(method + " " + path + ": the response is not JSON");
    return out;
  }

  std::unique_ptr<HttpClient> http_;
};

}  // namespace

StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& c) {
  HttpConfig h;
  h.base_url = c.server;
  h.ca_pem = c.ca_pem;
  h.cert_pem = c.cert_pem;
  h.key_pem = c.key_pem;
  h.bearer_token = c.token;
  h.insecure_skip_verify = c.insecure_skip_verify;
  EXECGOV_ASSIGN_OR_RETURN(auto http, NewHttpClient(h));
  return std::unique_ptr<Client>(new RestClient(std::move(http)));
}

std::string ConfigMapsPath(const std::string& ns) { return "/api/v1/namespaces/" + ns + "/configmaps"; }
std::string ConfigMapPath(const std::string& ns, const std::string& name) { return ConfigMapsPath(ns) + "/" + name; }

}  // namespace execgov::kube
