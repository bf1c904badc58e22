// The webhook's serving certificates from the operator's own CA (the chart's
// certificates.mode=operator), rotated without failing an admission.
//
// State lives in the API, so any operator replica that becomes leader
// continues where another stopped:
//   CA Secret   (never mounted): ca.crt, ca.key of the current CA, and during
//               a CA rotation previous-ca.crt, the CA being retired;
//               annotations: execgov.io/ca-bundle (SHA-256 of the caBundle
//               last seen in the webhook configuration) and
//               execgov.io/ca-bundle-since (when it was first seen),
//               execgov.io/rotate (set by a person to force a CA rotation:
//               any new value) and execgov.io/rotated-for (the value last
//               acted on).
//   TLS Secret  (mounted by the webhook pods): tls.crt, tls.key, ca.crt.
//   ValidatingWebhookConfiguration: every webhook's clientConfig.caBundle.
//
// A CA rotation (forced, or when the CA nears expiry) never breaks a TLS
// handshake of the API server with a webhook replica:
//   1. a new CA becomes current and the old one previous (one Secret write);
//   2. caBundle becomes current + previous, so both are trusted;
//   3. only after the API server has had `bundle_propagation` to load that
//      caBundle is a serving certificate from the new CA written to the TLS
//      Secret (replicas still serving the old one stay trusted);
//   4. only once every replica serves the new certificate (the probe) is the
//      previous CA dropped, and then removed from caBundle.
// A serving certificate nearing expiry is reissued from the current CA, which
// the caBundle already trusts. Nothing is ever removed from caBundle while a
// replica might still serve a certificate that needs it; when the probe
// reaches no replica, the old CA stays trusted.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "kube/client.h"
#include "runtime/manager.h"

namespace execgov::controllers {

struct WebhookCertificatesOptions {
  std::string ns;                     // install namespace: both Secrets live here
  std::string ca_secret;              // e.g. execgov-webhook-ca
  std::string tls_secret;             // e.g. execgov-webhook-tls
  std::string webhook_configuration;  // e.g. execgov (cluster-scoped)
  std::vector<std::string> hosts;     // the serving certificate's DNS names / IPs
  std::chrono::seconds ca_validity{std::chrono::hours(24 * 365 * 5)};
  std::chrono::seconds ca_renew_before{std::chrono::hours(24 * 90)};
  std::chrono::seconds cert_validity{std::chrono::hours(24 * 90)};
  std::chrono::seconds cert_renew_before{std::chrono::hours(24 * 30)};
  // How long the API server may take to load a changed caBundle (it watches
  // webhook configurations; this is generous).
  std::chrono::seconds bundle_propagation{std::chrono::seconds(5)};
};

// The SHA-256 (hex) of the leaf certificate each webhook replica serves now,
// one entry per replica reached. An error or an empty list means "unknown":
// the previous CA is then kept.
using ServingProbe = std::function<StatusOr<std::vector<std::string>>()>;

class WebhookCertificates {
 public:
  WebhookCertificates(kube::Client* client, const Clock* clock, WebhookCertificatesOptions options,
                      ServingProbe probe);

  // One step toward the state above; idempotent, safe to run from any
  // replica that leads. Returns how long until the next pass is due (0:
  // immediately, a step was taken and another follows).
  StatusOr<std::chrono::seconds> Reconcile();

  // Runs Reconcile until `stop` is set, sleeping as it says (at most
  // `max_interval`; 2 s after an error). For the operator's runnable.
  void Run(const std::atomic<bool>& stop, std::chrono::seconds max_interval = std::chrono::seconds(10));

 private:
  kube::Client* client_;
  const Clock* clock_;
  WebhookCertificatesOptions options_;
  ServingProbe probe_;
};

// The names a Service is reached by from inside the cluster: service,
// service.ns, service.ns.svc, service.ns.svc.cluster.local.
std::vector<std::string> ServiceHosts(const std::string& service, const std::string& ns);

// The operator's runnable: certs->Run on its own thread while this replica
// leads (needs_leader), stopped and joined by the manager.
runtime::Runnable WebhookCertificatesRunnable(WebhookCertificates* certs);

// Probes by address: "host:port" of each replica (a webhook outside the
// cluster, tests). `server_name` is sent as SNI.
ServingProbe ProbeAddresses(std::vector<std::string> addresses, std::string server_name);
// The address and port of each ready endpoint in EndpointSlices, for the port
// named `port_name` (endpoints whose ready condition is false are left out;
// an absent condition counts as ready, as in Kubernetes).
std::vector<std::pair<std::string, int>> ReadyEndpoints(const std::vector<nlohmann::json>& slices,
                                                        const std::string& port_name);
// Probes the ready endpoints of a Service's port (EndpointSlices labelled
// kubernetes.io/service-name=<service> in `ns`), port named `port_name`.
ServingProbe ProbeServiceEndpoints(kube::Client* client, std::string ns, std::string service, std::string port_name,
                                   std::string server_name);

}  // namespace execgov::controllers
