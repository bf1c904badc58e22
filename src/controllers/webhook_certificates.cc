#include "controllers/webhook_certificates.h"

#include <algorithm>
#include <memory>
#include <thread>

#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "tls/certificate_authority.h"
#include "tls/peer_certificate.h"

namespace execgov::controllers {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

constexpr char kCaCert[] = "ca.crt";
constexpr char kCaKey[] = "ca.key";
constexpr char kPreviousCa[] = "previous-ca.crt";
constexpr char kBundleAnnotation[] = "execgov.io/ca-bundle";
constexpr char kBundleSinceAnnotation[] = "execgov.io/ca-bundle-since";
constexpr char kRotateAnnotation[] = "execgov.io/rotate";
constexpr char kRotatedForAnnotation[] = "execgov.io/rotated-for";

std::string Data(const Json& secret, const char* key) {
  auto data = secret.find("data");
  if (data == secret.end() || !data->is_object() || !data->contains(key) || !(*data)[key].is_string()) return "";
  return crypto::Base64Decode((*data)[key].get<std::string>()).value_or("");
}

void SetData(Json& secret, const char* key, const std::string& value) {
  secret["data"][key] = crypto::Base64Encode(value);
}

std::string Annotation(const Json& obj, const char* key) {
  const Json* meta = obj.contains("metadata") ? &obj["metadata"] : nullptr;
  if (!meta || !meta->contains("annotations") || !(*meta)["annotations"].is_object()) return "";
  const Json& a = (*meta)["annotations"];
  return a.contains(key) && a[key].is_string() ? a[key].get<std::string>() : "";
}

std::string EnsureNewline(std::string pem) {
  if (!pem.empty() && pem.back() != '\n') pem.push_back('\n');
  return pem;
}

bool SameHosts(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

StatusOr<std::vector<std::string>> ProbeAll(const std::vector<std::pair<std::string, int>>& targets,
                                            const std::string& server_name) {
  std::vector<std::string> out;
  for (const auto& [host, port] : targets) {
    EXECGOV_ASSIGN_OR_RETURN(std::string fp,
                             tls::PeerCertificateFingerprint(host, port, server_name, std::chrono::seconds(2)));
    out.push_back(std::move(fp));
  }
  return out;
}

}  // namespace

WebhookCertificates::WebhookCertificates(kube::Client* client, const Clock* clock, WebhookCertificatesOptions options,
                                         ServingProbe probe)
    : client_(client), clock_(clock), options_(std::move(options)), probe_(std::move(probe)) {}

StatusOr<seconds> WebhookCertificates::Reconcile() {
  const int64_t now = clock_->NowUnix();
  const std::string secrets = kube::ResourcePath("v1", "secrets", options_.ns);
  const std::string ca_path = kube::ResourcePath("v1", "secrets", options_.ns, options_.ca_secret);
  const std::string where = "Secret " + options_.ns + "/" + options_.ca_secret;

  // The CA: created once, by whichever leader gets there first.
  auto ca_obj = client_->Get(ca_path);
  if (!ca_obj.ok()) {
    if (ca_obj.status().code() != StatusCode::kNotFound) return ca_obj.status().WithContext("reading " + where);
    EXECGOV_ASSIGN_OR_RETURN(auto ca, tls::CreateCertificateAuthority(options_.webhook_configuration + " webhook CA",
                                                                      now, options_.ca_validity));
    Json secret = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", options_.ca_secret}, {"namespace", options_.ns}}},
                   {"type", "Opaque"},
                   {"data", Json::object()}};
    SetData(secret, kCaCert, ca.cert_pem);
    SetData(secret, kCaKey, ca.key_pem);
    auto created = client_->Create(secrets, secret);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status().WithContext("creating " + where);
    }
    log::Info("webhook certificates: created the CA", {{"secret", where}});
    return seconds(0);
  }
  Json& ca_secret = *ca_obj;
  const std::string ca_cert = Data(ca_secret, kCaCert), previous = Data(ca_secret, kPreviousCa);
  auto ca_info = tls::InspectCertificate(ca_cert);
  if (!ca_info.ok() || Data(ca_secret, kCaKey).empty()) {
    return InvalidArgument(where + " holds no valid ca.crt and ca.key; delete it to have a new CA made");
  }

  // 1. Start a CA rotation: forced (a new execgov.io/rotate value) or due.
  const std::string rotate = Annotation(ca_secret, kRotateAnnotation);
  bool forced = !rotate.empty() && rotate != Annotation(ca_secret, kRotatedForAnnotation);
  bool due = ca_info->not_after - now <= options_.ca_renew_before.count();
  if (previous.empty() && (forced || due)) {
    EXECGOV_ASSIGN_OR_RETURN(auto next, tls::CreateCertificateAuthority(options_.webhook_configuration + " webhook CA",
                                                                        now, options_.ca_validity));
    SetData(ca_secret, kPreviousCa, ca_cert);
    SetData(ca_secret, kCaCert, next.cert_pem);
    SetData(ca_secret, kCaKey, next.key_pem);
    if (forced) ca_secret["metadata"]["annotations"][kRotatedForAnnotation] = rotate;
    EXECGOV_RETURN_IF_ERROR(client_->Update(ca_path, ca_secret).status().WithContext("rotating the CA in " + where));
    log::Info("webhook certificates: rotating the CA (old and new both trusted until every replica serves the new one)",
              {{"secret", where}, {"why", forced ? "requested" : "the CA nears expiry"}});
    return seconds(0);
  }

  // 2. caBundle: the current CA, and the previous one while a rotation lasts.
  const std::string bundle = EnsureNewline(ca_cert) + EnsureNewline(previous);
  const std::string bundle_b64 = crypto::Base64Encode(bundle);
  const std::string vwc_path = kube::ResourcePath("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "",
                                                  options_.webhook_configuration);
  auto vwc = kube::UpdateWithRetry(*client_, vwc_path, [&](Json& obj) {
    bool changed = false;
    if (!obj.contains("webhooks") || !obj["webhooks"].is_array()) return false;
    for (auto& hook : obj["webhooks"]) {
      Json& cc = hook["clientConfig"];
      if (!cc.contains("caBundle") || cc["caBundle"] != bundle_b64) {
        cc["caBundle"] = bundle_b64;
        changed = true;
      }
    }
    return changed;
  });
  if (!vwc.ok()) {
    if (vwc.status().code() != StatusCode::kNotFound) return vwc.status().WithContext("patching caBundle");
    // Uninstalled, or deleted as break-glass: nothing to trust us yet. The
    // certificates are kept current so a restored configuration works.
    log::Warn("webhook certificates: no ValidatingWebhookConfiguration to patch",
              {{"name", options_.webhook_configuration}});
  }

  // 3. When the API server was first seen given this caBundle.
  const std::string bundle_hash = crypto::HexEncode(crypto::HashBytes(crypto::Sha256(bundle)));
  if (Annotation(ca_secret, kBundleAnnotation) != bundle_hash) {
    ca_secret["metadata"]["annotations"][kBundleAnnotation] = bundle_hash;
    ca_secret["metadata"]["annotations"][kBundleSinceAnnotation] = std::to_string(now);
    EXECGOV_RETURN_IF_ERROR(client_->Update(ca_path, ca_secret).status().WithContext("recording the caBundle in " + where));
    return seconds(0);
  }
  int64_t since = std::strtoll(Annotation(ca_secret, kBundleSinceAnnotation).c_str(), nullptr, 10);

  // 4. The serving certificate, from the current CA, once the API server
  // trusts that CA.
  const std::string tls_path = kube::ResourcePath("v1", "secrets", options_.ns, options_.tls_secret);
  auto tls_obj = client_->Get(tls_path);
  if (!tls_obj.ok() && tls_obj.status().code() != StatusCode::kNotFound) {
    return tls_obj.status().WithContext("reading Secret " + options_.ns + "/" + options_.tls_secret);
  }
  const std::string tls_crt = tls_obj.ok() ? Data(*tls_obj, "tls.crt") : "";
  auto tls_info = tls::InspectCertificate(tls_crt);
  bool reissue = !tls_info.ok() || !tls::IsSignedBy(tls_crt, ca_cert) || !SameHosts(tls_info->hosts, options_.hosts) ||
                 tls_info->not_after - now <= options_.cert_renew_before.count() || Data(*tls_obj, kCaCert) != ca_cert;
  if (reissue) {
    if (now < since + options_.bundle_propagation.count()) return seconds(since + options_.bundle_propagation.count() - now);
    EXECGOV_ASSIGN_OR_RETURN(auto serving, tls::IssueServingCertificate({ca_cert, Data(ca_secret, kCaKey)}, options_.hosts,
                                                                        now, options_.cert_validity));
    Json secret = tls_obj.ok() ? *tls_obj
                               : Json{{"apiVersion", "v1"},
                                      {"kind", "Secret"},
                                      {"metadata", {{"name", options_.tls_secret}, {"namespace", options_.ns}}},
                                      {"type", "kubernetes.io/tls"}};
    secret["data"] = Json::object();
    SetData(secret, "tls.crt", serving.cert_pem);
    SetData(secret, "tls.key", serving.key_pem);
    SetData(secret, kCaCert, ca_cert);
    auto written = tls_obj.ok() ? client_->Update(tls_path, secret) : client_->Create(secrets, secret);
    EXECGOV_RETURN_IF_ERROR(written.status().WithContext("writing Secret " + options_.ns + "/" + options_.tls_secret));
    auto issued = tls::InspectCertificate(serving.cert_pem);
    log::Info("webhook certificates: issued a serving certificate",
              {{"secret", options_.ns + "/" + options_.tls_secret},
               {"sha256", issued.ok() ? issued->sha256_hex : ""},
               {"notAfter", issued.ok() ? issued->not_after : 0}});
    return seconds(0);
  }

  // 5. End a rotation once every replica serves the new certificate.
  if (!previous.empty()) {
    auto served = probe_ ? probe_() : StatusOr<std::vector<std::string>>(Unavailable("no probe"));
    bool all_new = served.ok() && !served->empty() &&
                   std::all_of(served->begin(), served->end(), [&](const auto& fp) { return fp == tls_info->sha256_hex; });
    if (!all_new) {
      log::Debug("webhook certificates: waiting for every replica to serve the new certificate",
                 {{"probe", served.ok() ? std::to_string(served->size()) + " replicas" : served.status().message()}});
      return seconds(2);
    }
    ca_secret["data"].erase(kPreviousCa);
    EXECGOV_RETURN_IF_ERROR(client_->Update(ca_path, ca_secret).status().WithContext("retiring the previous CA in " + where));
    log::Info("webhook certificates: every replica serves the new certificate; the previous CA is retired",
              {{"replicas", served->size()}});
    return seconds(0);
  }

  int64_t next = std::min(ca_info->not_after - options_.ca_renew_before.count(),
                          tls_info->not_after - options_.cert_renew_before.count()) - now;
  return seconds(std::max<int64_t>(next, 1));
}

void WebhookCertificates::Run(const std::atomic<bool>& stop, seconds max_interval) {
  while (!stop.load()) {
    auto next = Reconcile();
    if (!next.ok()) log::Warn("webhook certificates: reconcile failed", {{"error", next.status().message()}});
    auto wait = next.ok() ? std::min(*next, max_interval) : seconds(2);
    auto until = std::chrono::steady_clock::now() + wait;
    while (!stop.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

std::vector<std::string> ServiceHosts(const std::string& service, const std::string& ns) {
  return {service, service + "." + ns, service + "." + ns + ".svc", service + "." + ns + ".svc.cluster.local"};
}

runtime::Runnable WebhookCertificatesRunnable(WebhookCertificates* certs) {
  struct State {
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  auto state = std::make_shared<State>();
  return runtime::Runnable{"webhook-certificates",
                           [certs, state] {
                             state->stop = false;
                             state->thread = std::thread([certs, state] { certs->Run(state->stop); });
                           },
                           [state] {
                             state->stop = true;
                             if (state->thread.joinable()) state->thread.join();
                           },
                           /*needs_leader=*/true};
}

ServingProbe ProbeAddresses(std::vector<std::string> addresses, std::string server_name) {
  return [addresses = std::move(addresses), server_name = std::move(server_name)]() -> StatusOr<std::vector<std::string>> {
    std::vector<std::pair<std::string, int>> targets;
    for (const auto& a : addresses) {
      size_t colon = a.rfind(':');
      if (colon == std::string::npos) return InvalidArgument("probe address \"" + a + "\" is not host:port");
      std::string host = a.substr(0, colon);
      if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      targets.emplace_back(host, std::atoi(a.c_str() + colon + 1));
    }
    return ProbeAll(targets, server_name);
  };
}

std::vector<std::pair<std::string, int>> ReadyEndpoints(const std::vector<Json>& slices, const std::string& port_name) {
  std::vector<std::pair<std::string, int>> targets;
  for (const auto& slice : slices) {
    int port = 0;
    for (const auto& p : slice.value("ports", Json::array())) {
      if (p.value("name", "") == port_name && p.contains("port") && p["port"].is_number_integer()) port = p["port"].get<int>();
    }
    if (port == 0) continue;
    for (const auto& ep : slice.value("endpoints", Json::array())) {
      const Json conditions = ep.value("conditions", Json::object());
      bool ready = !conditions.contains("ready") || !conditions["ready"].is_boolean() || conditions["ready"].get<bool>();
      const Json addresses = ep.value("addresses", Json::array());
      if (ready && !addresses.empty() && addresses[0].is_string()) targets.emplace_back(addresses[0].get<std::string>(), port);
    }
  }
  return targets;
}

ServingProbe ProbeServiceEndpoints(kube::Client* client, std::string ns, std::string service, std::string port_name,
                                   std::string server_name) {
  return [=]() -> StatusOr<std::vector<std::string>> {
    kube::ListOptions opts;
    opts.label_selector = "kubernetes.io/service-name=" + service;
    EXECGOV_ASSIGN_OR_RETURN(auto slices, client->List(kube::ResourcePath("discovery.k8s.io/v1", "endpointslices", ns), opts));
    auto targets = ReadyEndpoints(slices.items, port_name);
    return ProbeAll(targets, server_name);
  };
}

}  // namespace execgov::controllers
