// One writer for the ledger's tail among webhook replicas (issue 19).
//
// Every replica can append to a shared ledger: a batch's create-if-absent
// name (ConfigMap) or its transaction (etcd) keeps the chain from forking,
// and each record's guard keeps a jti consumed once. But two replicas that
// both write lose about half their writes to each other, and each batch
// carries only its own replica's admissions. So the replicas elect one
// writer on a Lease, and the others forward their records to it: its group
// commit then carries the admissions of every replica in one write.
// Forwarding is only an optimization. Whenever the writer cannot be reached
// or answers anything but a result, a record is appended here as before,
// with its guard, which is as correct, only slower.
//
// Trust: a forwarded record goes into the ledger, and the answer decides
// whether an admission is allowed, so both directions are signed with the
// ledger's own Ed25519 key, which every replica holds already (it signs the
// checkpoints): whoever holds it can write the ledger anyway. TLS keeps the
// records private on the wire; the serving certificate names the Service,
// not a Pod's address, so the peer's certificate is not what is trusted.
//
// Wire format (POST kForwardPath, content type kForwardContentType), both
// ways "<base64 Ed25519 signature>\n<JSON>":
//   request  {"entries":[<entry>,...],"origin":<the ledger's>,"time":<unix ms>}, signed over
//            "execgov ledger forward request v1\n" + JSON
//   response {"results":[{"seq":N,"hash":"sha256:..."} | {"error":CODE,"message":M},...]},
//            signed over "execgov ledger forward response v1\n" + the request's
//            signature (base64) + "\n" + JSON, so it answers that request only.
// A request more than kForwardMaxSkew away from the writer's clock is refused,
// as is one for another ledger (its checkpoint origin): replicas of two
// ledgers may share a key and, misconfigured, a Lease (409).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "crypto/keys.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "webhook/https_server.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {

inline constexpr const char* kForwardPath = "/ledger/v1/append";
inline constexpr const char* kForwardContentType = "application/x-execgov-ledger-forward";
inline constexpr size_t kForwardMaxEntries = 64;
inline constexpr std::chrono::seconds kForwardMaxSkew{60};

// The writer's side: an HttpServer handler that appends forwarded entries to
// `ledger`, reserving the consumptions they carry in `replay` first and
// judging each again as its batch is built (Recheck), exactly as for this
// replica's own admissions. Each entry stored is then passed to `observe`
// (what LedgerOptions::observe does for other writers' records, which a
// ledger never passes for its own). `accepting` false (stopping) answers
// 503. Everything passed must outlive the handler; `metrics` may be null.
HttpServer::Handler NewForwardHandler(ledger::Ledger* ledger, FileReplayStore* replay,
                                      std::function<void(std::string_view record)> observe, crypto::PrivateKey key,
                                      const Clock* clock, std::function<bool()> accepting,
                                      metrics::Metrics* metrics = nullptr);

struct ForwardOptions {
  // The base URL ("https://HOST:PORT") of the replica that writes the tail
  // now, or empty when that is this one or nobody is known.
  std::function<std::string()> writer;
  // Per request. A writer that answers nothing within it is skipped for
  // `backoff`, and what was sent is appended here. Well inside the webhook's
  // timeout (5 s in the chart): a writer that takes the request and then
  // hangs must leave this replica time to append the record itself before
  // the API server gives up on the admission (at 5 s, every admission
  // forwarded to a hung writer was past that deadline, refused, and then
  // recorded as allowed).
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds backoff{5000};
  int senders = 2;  // requests in flight at once
  // Forward Append and AppendAsync too, not only AppendEntryAsync: for a
  // process whose records carry no consumption to guard (the operator's
  // steps, derived and enforcement records), so they ride the writer's
  // group commit instead of racing it for the tail. The webhook's own
  // synchronous records (namespace and approval guards) stay local.
  bool forward_appends = false;
  metrics::Metrics* metrics = nullptr;  // execgov_ledger_forward_records_total{role="sent"}
  const Clock* clock = nullptr;  // nullptr: the system clock
};

// A Ledger that forwards AppendEntryAsync to the writer, and does everything
// else (synchronous appends, CatchUp, Contains, checkpoints, Close) on
// `local`, which must outlive it. `key` is the ledger's checkpoint key. Records queued while a request is in
// flight go in the next one, up to kForwardMaxEntries. A record the writer
// refused as a replay gets AlreadyExists, as from a local guard. When the
// outcome is unknown (the writer stopped answering), the record is appended
// locally with its guard: it may then be stored twice, never lost, and the
// copy admits nothing more (the guard finds the consumption is the same
// object's).
std::unique_ptr<ledger::Ledger> NewForwardingLedger(ledger::Ledger* local, crypto::PrivateKey key,
                                                    ForwardOptions options);

// Where the writer is reached, from the writer Lease's holderIdentity
// ("https://HOST:PORT#<id>", as a replica with --ledger-forward-address
// writes it): "https://HOST:PORT", or empty when nobody holds the Lease, the
// holder is `self` (this replica writes), or it names no such address.
std::string WriterUrlOf(const std::string& holder, const std::string& self = "");

}  // namespace execgov::webhook
