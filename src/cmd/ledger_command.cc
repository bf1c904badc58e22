// execgov ledger verify | show | proof | verify-proof: the auditor's tools
// (docs/design.md §9.1). They open any backend URL read-only and never repair or write.
// execgov ledger export moves a configmap:// ledger's old segments to an
// archive by hand (ledger/retention.h), what the operator's
// --ledger-retain-segments does periodically.
#include <condition_variable>
#include <iomanip>
#include <iostream>
#include <thread>

#include "cmd/cli.h"
#include "core/file.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "core/clock.h"
#include "console/ledger_index.h"
#include "ledger/backend.h"
#include "ledger/configmap_backend.h"
#include "ledger/consistency.h"
#include "ledger/ledger.h"
#include "ledger/proof.h"
#include "ledger/record.h"
#include "ledger/retention.h"
#include "ledger/story.h"
#include "ledger/tiles.h"
#include "ledger/verifier.h"
#include "ledger/witness_client.h"
#include "ledger/witness_submitter.h"
#include "kube/http.h"
#include "cmd/admission_service.h"  // StopSignals
#include "tls/credentials.h"
#include "webhook/https_server.h"

namespace execgov::cmd {
namespace {

struct LedgerOptions {
  std::string url;
  std::string checkpoint_key;
  std::string checkpoint;
  uint64_t from = 0;
  uint64_t limit = 0;
  std::string output;
  std::string object, jti, decision, type;
  int64_t story = -1;  // show --story SEQ; -1: not asked
  uint64_t seq = 0;
  // A trimmed configmap:// ledger's moved records (retention).
  std::string archive;
  // export
  std::string to, ledger_key, min_age = "10m";
  uint64_t keep_segments = 4;
  // export --tiles, serve
  std::string tiles_dir, listen, tls_cert, tls_key, refresh = "5s";
  // witness, verify with witnesses, vkey
  std::vector<std::string> witnesses, witness_keys;
  int min_witnesses = -1;
  std::string out, origin;
};

StatusOr<std::vector<ledger::NoteVerifierKeyParts>> ParseWitnessKeys(const std::vector<std::string>& keys) {
  std::vector<ledger::NoteVerifierKeyParts> out;
  for (const auto& k : keys) {
    auto parsed = ledger::ParseNoteVerifierKey(k);
    if (!parsed.ok()) return parsed.status().WithContext("--witness-key " + k);
    if (parsed->type != ledger::kNoteAlgCosignatureV1) {
      return InvalidArgument("--witness-key " + k + " is not a witness (cosignature/v1) key");
    }
    out.push_back(*parsed);
  }
  return out;
}

// The ledger at o.url, joined to o.archive when one is given: records the
// retention base says were moved are read from the archive, the seam
// checked against the base's checkpoint (signed by `key` when given).
// `base` (when not null) receives the base the archive was joined at.
StatusOr<std::unique_ptr<ledger::Backend>> OpenForReading(const LedgerOptions& o,
                                                          std::optional<crypto::PublicKey> key = std::nullopt,
                                                          std::optional<ledger::RetentionBase>* base = nullptr) {
  EXECGOV_ASSIGN_OR_RETURN(auto kept, ledger::OpenBackend(o.url, ledger::BackendOptions{.read_only = true}));
  if (o.archive.empty()) return kept;
  if (base) {
    EXECGOV_ASSIGN_OR_RETURN(*base, ledger::ReadRetentionBase(*kept));
  }
  auto archive = ledger::OpenBackend(o.archive, ledger::BackendOptions{.read_only = true});
  if (!archive.ok()) return archive.status().WithContext("--archive");
  return ledger::JoinArchive(std::move(archive).value(), std::move(kept), std::move(key));
}

StatusOr<crypto::PublicKey> ReadPublicKey(const std::string& path) {
  EXECGOV_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = crypto::PublicKey::FromPem(pem);
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

// --min-witnesses N: the kept checkpoint must carry N valid cosignatures by
// the --witness-key keys (before the ledger is compared with it).
int CheckWitnessed(const LedgerOptions& o, const std::string& checkpoint) {
  auto keys = ParseWitnessKeys(o.witness_keys);
  if (!keys.ok()) return UsageError(keys.status().message());
  auto n = ledger::CountCosignatures(checkpoint, *keys);
  if (!n.ok()) {
    std::cout << "FAILED: the checkpoint's cosignatures: " << n.status().message() << "\n";
    return n.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitDenied;
  }
  if (*n < static_cast<size_t>(o.min_witnesses)) {
    std::cout << "FAILED: the checkpoint is cosigned by " << *n << " of the given witnesses, " << o.min_witnesses
              << " required\n";
    return kExitDenied;
  }
  return kExitOk;
}

// The cosigned checkpoint kept beside the ledger at `url`.
StatusOr<std::string> ReadStoredCosigned(const std::string& url) {
  EXECGOV_ASSIGN_OR_RETURN(auto store, ledger::OpenCosignedStore(url));
  auto note = store->Read();
  if (!note.ok()) return note.status().WithContext("--witness-key without --checkpoint: the cosigned checkpoint kept at " + store->Where());
  std::cerr << "using the cosigned checkpoint kept at " << store->Where() << "\n";
  return note;
}

// --checkpoint-key when given.
StatusOr<std::optional<crypto::PublicKey>> OptionalPublicKey(const std::string& path) {
  if (path.empty()) return std::optional<crypto::PublicKey>();
  EXECGOV_ASSIGN_OR_RETURN(crypto::PublicKey key, ReadPublicKey(path));
  return std::optional<crypto::PublicKey>(key);
}

int RunVerify(const LedgerOptions& o) {
  if (o.min_witnesses >= 0 && o.witness_keys.empty()) {
    return UsageError("--min-witnesses needs --witness-key (the witnesses whose cosignatures count)");
  }
  ledger::VerifyOptions vo;
  if (!o.checkpoint_key.empty()) {
    auto key = ReadPublicKey(o.checkpoint_key);
    if (!key.ok()) return UsageError(key.status().message());
    vo.checkpoint_key = *key;
  }
  if (!o.checkpoint.empty() || !o.witness_keys.empty()) {
    // Without --checkpoint, the cosigned checkpoint the operator keeps
    // beside the ledger (ledger/witness_submitter.h).
    auto text = o.checkpoint.empty() ? ReadStoredCosigned(o.url) : ReadFile(o.checkpoint);
    if (!text.ok()) return UsageError(text.status().message());
    vo.trusted_checkpoint = *text;
    if (!o.witness_keys.empty()) {
      LedgerOptions with = o;
      if (with.min_witnesses < 0) with.min_witnesses = static_cast<int>(o.witness_keys.size());
      if (int code = CheckWitnessed(with, *text); code != kExitOk) return code;
    }
  }
  std::optional<ledger::RetentionBase> base;
  auto backend = OpenForReading(o, vo.checkpoint_key, &base);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto r = ledger::VerifyLedger(**backend, vo);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kPermissionDenied) {
      std::cout << "FAILED: " << r.status().message() << "\n";
      return kExitDenied;
    }
    return UsageError(r.status().message());
  }
  if (!r->ok()) {
    std::cout << "FAILED at seq " << r->bad_seq << ": " << ledger::ProblemName(r->problem) << ": " << r->message
              << "\n";
    return kExitDenied;
  }
  std::cout << "OK size " << r->size << " root " << crypto::Base64Encode(crypto::HashBytes(r->root)) << " ("
            << crypto::HashToSha256Ref(r->root) << ")\n";
  std::cout << "checkpoints " << r->checkpoints;
  if (r->last_checkpoint) {
    std::cout << ", the last for size " << r->last_checkpoint->size << " (origin " << r->last_checkpoint->origin << ")";
  }
  std::cout << "\n";
  if (base) {
    std::cout << "records 0.." << base->first_seq - 1 << " from the archive " << base->archive
              << ", joined at the retention base's checkpoint for size " << base->first_seq << " ("
              << (r->signatures_checked ? "signature checked" : "signature NOT checked") << ")\n";
  } else if (!o.archive.empty()) {
    std::cout << "nothing was moved out of this ledger; --archive was not read\n";
  }
  if (!r->signatures_checked) {
    std::cerr << "warning: checkpoint signatures were not checked (no --checkpoint-key)\n";
  }
  return kExitOk;
}

bool Matches(const nlohmann::json& rec, const LedgerOptions& o) {
  auto str = [&](const nlohmann::json& j, const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!o.type.empty() && str(rec, "type") != o.type) return false;
  if (!o.decision.empty() && str(rec, "decision") != o.decision) return false;
  // The artifact's jti, or a grant's (the console's search and story read it
  // the same way).
  if (!o.jti.empty() && ledger::StoryJti(rec) != o.jti) return false;
  if (!o.object.empty()) {
    auto ob = rec.find("object");
    if (ob == rec.end() || !ob->is_object()) return false;
    std::string ns = str(*ob, "namespace"), name = str(*ob, "name"), kind = str(*ob, "kind");
    // NAME, NAMESPACE/NAME, KIND/NAMESPACE/NAME or the uid.
    if (o.object != name && o.object != ns + "/" + name && o.object != kind + "/" + ns + "/" + name &&
        o.object != str(*ob, "uid")) {
      return false;
    }
  }
  return true;
}

std::string Cell(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return "-";
    cur = &(*cur)[k];
  }
  if (cur->is_string()) return cur->get<std::string>();
  return cur->dump();
}

// One record as `ledger show` prints it: its bytes (-o json) or a table row.
void PrintRecord(uint64_t seq, std::string_view bytes, const nlohmann::json& rec, bool json) {
  if (json) {
    std::cout << bytes << "\n";
    return;
  }
  std::string object = Cell(rec, {"object", "kind"}) + "/" + Cell(rec, {"object", "namespace"}) + "/" +
                       Cell(rec, {"object", "name"});
  std::string decision = Cell(rec, {"decision"}), reason = Cell(rec, {"reason"});
  if (Cell(rec, {"type"}) == "checkpoint") {
    auto cp = ledger::ParseCheckpoint(Cell(rec, {"checkpoint"}));
    object = cp.ok() ? "size " + std::to_string(cp->size) : "(malformed checkpoint)";
  } else if (Cell(rec, {"type"}) == "outcome") {
    // What became of an earlier admission (not-created): which one.
    decision = Cell(rec, {"outcome"});
    reason = "admission " + Cell(rec, {"admissionSeq"});
  } else if (Cell(rec, {"type"}) == "approval") {
    // Its `reason` is the approver's own words (-o json has them); the
    // column says what they decided.
    reason = Cell(rec, {"verdict"});
  } else if (Cell(rec, {"type"}) == "grant") {
    decision = "granted";
    reason = Cell(rec, {"rule", "policy"}) + "/" + Cell(rec, {"rule", "name"});
  } else if (Cell(rec, {"type"}) == "denial") {
    decision = "denied";
  }
  std::cout << std::left << std::setw(8) << seq << std::setw(26) << Cell(rec, {"time"}) << std::setw(11)
            << Cell(rec, {"type"}) << std::setw(12) << decision << std::setw(22) << reason << " " << std::setw(40)
            << object << " " << Cell(rec, {"user"}) << "\n";
}

void PrintHeader() {
  std::cout << std::left << std::setw(8) << "SEQ" << std::setw(26) << "TIME" << std::setw(11) << "TYPE"
            << std::setw(12) << "DECISION" << std::setw(22) << "REASON" << " " << std::setw(40) << "OBJECT"
            << " USER\n";
}

// --story SEQ: the records the console's story graph of record SEQ shows
// (console::LedgerIndex::Story, the same code): its parent chain, then the
// execution's records, oldest first.
int RunShowStory(const LedgerOptions& o) {
  if (!o.archive.empty() || o.from != 0 || o.limit != 0 || !o.object.empty() || !o.jti.empty() ||
      !o.decision.empty() || !o.type.empty()) {
    return UsageError("--story takes no other filter, --from, --limit or --archive");
  }
  auto index = console::LedgerIndex::Open(o.url);
  if (!index.ok()) return UsageError(index.status().message());
  std::vector<uint64_t> parents;
  auto story = (*index)->Story(static_cast<uint64_t>(o.story), &parents);
  if (!story.ok()) return UsageError(story.status().message());
  const bool json = o.output == "json";
  if (!json) PrintHeader();
  std::vector<uint64_t> seqs(parents.rbegin(), parents.rend());  // oldest ancestor first
  seqs.insert(seqs.end(), story->begin(), story->end());
  for (uint64_t seq : seqs) {
    auto bytes = (*index)->Record(seq);
    if (!bytes.ok()) return UsageError(bytes.status().message());
    auto rec = crypto::ParseJsonStrict(*bytes);
    if (!rec.ok()) return UsageError("seq " + std::to_string(seq) + " is not JSON: run ledger verify");
    PrintRecord(seq, *bytes, *rec, json);
  }
  return kExitOk;
}

int RunShow(const LedgerOptions& o) {
  if (o.output != "" && o.output != "json" && o.output != "table") return UsageError("-o: json or table");
  if (o.story >= 0) return RunShowStory(o);
  auto backend = OpenForReading(o);
  if (!backend.ok()) return UsageError(backend.status().message());
  bool json = o.output == "json";
  if (!json) PrintHeader();
  uint64_t from = o.from;
  if (o.archive.empty() && from == 0) {
    // A trimmed ledger without its archive: what the cluster holds, said so.
    auto first = (*backend)->First();
    if (!first.ok()) return UsageError(first.status().message());
    if (*first > 0) {
      std::cerr << "note: records 0.." << *first - 1 << " were moved out of this ledger (pass --archive URL); "
                << "showing from seq " << *first << "\n";
      from = *first;
    }
  }
  uint64_t shown = 0;
  Status st = (*backend)->Scan(from, UINT64_MAX, [&](uint64_t seq, std::string_view bytes) -> Status {
    auto rec = crypto::ParseJsonStrict(bytes);
    if (!rec.ok()) return DataLoss("seq " + std::to_string(seq) + " is not JSON: run ledger verify");
    if (!Matches(*rec, o)) return Status::Ok();
    PrintRecord(seq, bytes, *rec, json);
    if (o.limit > 0 && ++shown >= o.limit) return Aborted("limit");
    return Status::Ok();
  });
  if (!st.ok() && !(st.code() == StatusCode::kAborted && st.message() == "limit")) return UsageError(st.message());
  return kExitOk;
}

int RunProof(const LedgerOptions& o) {
  auto backend = OpenForReading(o);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto proof = ledger::ProveInclusion(**backend, o.seq);
  if (!proof.ok()) return UsageError(proof.status().message());
  std::cout << proof->dump(2) << "\n";
  return kExitOk;
}

int RunVerifyProof(const LedgerOptions& o) {
  auto key = ReadPublicKey(o.checkpoint_key);
  if (!key.ok()) return UsageError(key.status().message());
  auto text = ReadFile("-");
  if (!text.ok()) return UsageError(text.status().message());
  auto doc = crypto::ParseJsonStrict(*text);
  if (!doc.ok()) return UsageError("the proof is not JSON: " + doc.status().message());
  auto cp = ledger::VerifyInclusionProof(*doc, *key);
  if (!cp.ok()) {
    std::cout << "FAILED: " << cp.status().message() << "\n";
    return cp.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitDenied;
  }
  std::cout << "OK seq " << (*doc)["seq"] << " is in " << cp->origin << " at size " << cp->size << "\n";
  return kExitOk;
}

// The ledger as C2SP tlog-tiles (ledger/tiles.h), checked as it is read:
// with --checkpoint-key each published checkpoint's signature too.
StatusOr<std::unique_ptr<ledger::TileLog>> OpenTiles(ledger::Backend* backend, std::optional<crypto::PublicKey> key) {
  auto tiles = std::make_unique<ledger::TileLog>(backend, ledger::TileLogOptions{std::move(key)});
  EXECGOV_RETURN_IF_ERROR(tiles->Refresh());
  return tiles;
}

int RunExportTiles(const LedgerOptions& o) {
  if (!o.to.empty() || !o.ledger_key.empty()) return UsageError("--tiles exports tiles; --to and --ledger-key move segments");
  auto key_or = OptionalPublicKey(o.checkpoint_key);
  if (!key_or.ok()) return UsageError(key_or.status().message());
  std::optional<crypto::PublicKey> key = *key_or;
  auto backend = OpenForReading(o, key);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto tiles = OpenTiles(backend->get(), key);
  if (!tiles.ok()) return UsageError(tiles.status().message());
  auto cp = (*tiles)->Published();
  if (!cp) return UsageError("the ledger has no checkpoint yet: nothing to export");
  if (Status st = (*tiles)->Export(o.tiles_dir); !st.ok()) return UsageError(st.message());
  std::cout << "exported " << cp->origin << " size " << cp->size << " to " << o.tiles_dir << "\n";
  return kExitOk;
}

int RunServe(const LedgerOptions& o) {
  auto interval = ParseDuration(o.refresh);
  if (!interval || *interval < std::chrono::milliseconds(100)) return UsageError("--refresh: a duration of at least 100ms");
  if (o.tls_cert.empty() != o.tls_key.empty()) return UsageError("--tls-cert and --tls-key go together");
  StopSignals signals;  // before any thread starts
  auto key_or = OptionalPublicKey(o.checkpoint_key);
  if (!key_or.ok()) return UsageError(key_or.status().message());
  std::optional<crypto::PublicKey> key = *key_or;
  auto backend = OpenForReading(o, key);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto tiles = OpenTiles(backend->get(), key);
  if (!tiles.ok()) return UsageError(tiles.status().message());
  std::unique_ptr<tls::CredentialStore> credentials;
  if (!o.tls_cert.empty()) {
    auto store = tls::CredentialStore::Open(tls::TlsOptions{o.tls_cert, o.tls_key, ""});
    if (!store.ok()) return UsageError(store.status().message());
    credentials = std::move(store).value();
  }
  ledger::TileLog* tile_log = tiles->get();
  auto handler = [tile_log](const webhook::HttpRequest& req) {
    if (req.method != "GET") {
      return webhook::HttpResponse{405, "text/plain; charset=utf-8", "read-only: use GET\n", {{"Allow", "GET"}}};
    }
    ledger::TileResponse t = tile_log->Serve(req.target);
    webhook::HttpResponse r{t.status, t.content_type, std::move(t.body), {}};
    r.headers.emplace_back("Cache-Control", t.immutable ? "public, max-age=31536000, immutable" : "no-store");
    return r;
  };
  auto server = webhook::HttpServer::Start(o.listen, credentials.get(), handler, 2, 1024);
  if (!server.ok()) return UsageError(server.status().message());
  auto cp = tile_log->Published();
  std::cout << "serving " << (cp ? cp->origin + " size " + std::to_string(cp->size) : std::string("(no checkpoint yet)"))
            << " at " << (credentials ? "https" : "http") << "://127.0.0.1:" << (*server)->port() << "/" << std::endl;
  // Refreshes until a signal; a ledger that stopped extending what was
  // served stays published as it was, and says why once.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread refresher([&] {
    std::string last_error;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, *interval, [&] { return stop; })) {
      Status st = tile_log->Refresh();
      if (!st.ok() && st.message() != last_error) {
        log::Error("ledger serve: the ledger is no longer served past what was published", {{"error", st.message()}});
      }
      last_error = st.ok() ? "" : st.message();
    }
  });
  signals.Wait();
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  refresher.join();
  server->reset();
  return kExitOk;
}

int RunConsistency(const LedgerOptions& o) {
  auto key_or = OptionalPublicKey(o.checkpoint_key);
  if (!key_or.ok()) return UsageError(key_or.status().message());
  std::optional<crypto::PublicKey> key = *key_or;
  auto old = ReadFile(o.checkpoint, 64 * 1024);
  if (!old.ok()) return UsageError(old.status().message());
  auto backend = OpenForReading(o, key);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto proof = ledger::ProveConsistency(**backend, *old, key ? &*key : nullptr);
  if (!proof.ok()) {
    if (proof.status().code() == StatusCode::kPermissionDenied) {
      std::cout << "FAILED: " << proof.status().message() << "\n";
      return kExitDenied;
    }
    return UsageError(proof.status().message());
  }
  std::cout << proof->dump(2) << "\n";
  return kExitOk;
}

int RunVerifyConsistency(const LedgerOptions& o) {
  auto key = ReadPublicKey(o.checkpoint_key);
  if (!key.ok()) return UsageError(key.status().message());
  std::string kept;
  if (!o.checkpoint.empty()) {
    auto text = ReadFile(o.checkpoint, 64 * 1024);
    if (!text.ok()) return UsageError(text.status().message());
    kept = *text;
  }
  auto text = ReadFile("-", 1u << 20);
  if (!text.ok()) return UsageError(text.status().message());
  auto doc = crypto::ParseJsonStrict(*text);
  if (!doc.ok()) return UsageError("the proof is not JSON: " + doc.status().message());
  auto r = ledger::VerifyConsistencyProof(*doc, *key, kept);
  if (!r.ok()) {
    std::cout << "FAILED: " << r.status().message() << "\n";
    return r.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitDenied;
  }
  std::cout << "OK " << r->to.origin << " size " << r->to.size << " extends size " << r->from.size << "\n";
  return kExitOk;
}

int RunWitnessRequest(const LedgerOptions& o) {
  if (o.witnesses.size() != o.witness_keys.size() || o.witnesses.empty()) {
    return UsageError("give each --witness URL its --witness-key, in the same order");
  }
  auto keys = ParseWitnessKeys(o.witness_keys);
  if (!keys.ok()) return UsageError(keys.status().message());
  auto key_or = OptionalPublicKey(o.checkpoint_key);
  if (!key_or.ok()) return UsageError(key_or.status().message());
  std::optional<crypto::PublicKey> key = *key_or;
  auto backend = OpenForReading(o, key);
  if (!backend.ok()) return UsageError(backend.status().message());
  auto tree = ledger::ReadCheckpointedTree(**backend);
  if (!tree.ok()) return UsageError(tree.status().message());
  if (key) {
    auto opened = ledger::OpenCheckpoint(tree->note, *key);
    if (!opened.ok()) return UsageError("the ledger's latest checkpoint: " + opened.status().message());
  }
  std::vector<std::string> lines;
  int refused = 0;
  for (size_t i = 0; i < o.witnesses.size(); ++i) {
    kube::HttpConfig config;
    config.base_url = o.witnesses[i];
    config.timeout = std::chrono::seconds(10);
    auto http = kube::NewHttpClient(config);
    if (!http.ok()) return UsageError("--witness " + o.witnesses[i] + ": " + http.status().message());
    auto got = ledger::RequestCosignature(**http, (*keys)[i], tree->note, tree->leaves);
    if (!got.ok()) {
      std::cerr << "witness " << (*keys)[i].name << ": " << got.status().message() << "\n";
      ++refused;
      continue;
    }
    lines.push_back(got->line);
  }
  std::string cosigned = ledger::AddCosignatures(tree->note, lines);
  if (!o.out.empty()) {
    if (Status st = WriteFileAtomic(o.out, cosigned, 0644); !st.ok()) return UsageError(st.message());
  } else {
    std::cout << cosigned;
  }
  size_t need = o.min_witnesses >= 0 ? static_cast<size_t>(o.min_witnesses) : o.witnesses.size();
  std::cerr << "size " << tree->checkpoint.size << " cosigned by " << lines.size() << " of " << o.witnesses.size()
            << " witnesses\n";
  if (lines.size() < need) {
    std::cout << "FAILED: " << lines.size() << " cosignatures, " << need << " required (" << refused << " refused)\n";
    return kExitDenied;
  }
  return kExitOk;
}

int RunVkey(const LedgerOptions& o) {
  auto key = ReadPublicKey(o.checkpoint_key);
  if (!key.ok()) return UsageError(key.status().message());
  std::string origin = o.origin;
  if (origin.empty()) {
    if (o.url.empty()) return UsageError("give --origin or --ledger");
    auto backend = OpenForReading(o, *key);
    if (!backend.ok()) return UsageError(backend.status().message());
    auto tree = ledger::ReadCheckpointedTree(**backend);
    if (!tree.ok()) return UsageError(tree.status().message());
    origin = tree->checkpoint.origin;
  }
  auto vkey = ledger::FormatNoteVerifierKey(origin, ledger::kNoteAlgEd25519, *key);
  if (!vkey.ok()) return UsageError(vkey.status().message());
  std::cout << *vkey << "\n";
  return kExitOk;
}

int RunExport(const LedgerOptions& o) {
  if (!o.tiles_dir.empty()) return RunExportTiles(o);
  if (o.to.empty() || o.ledger_key.empty()) return UsageError("export needs --to and --ledger-key (or --tiles DIR)");
  auto min_age = ParseDuration(o.min_age);
  if (!min_age) return UsageError("--min-age: a duration such as 10m");
  if (*min_age < 2 * ledger::kConfigMapViewRefresh) {
    // A writer trusts a view of the segments up to a minute old: a younger
    // segment moved out under it could take an acknowledged record with it.
    return UsageError("--min-age must be at least " + std::to_string(2 * ledger::kConfigMapViewRefresh.count()) +
                      "s (writers trust a view of the segments for " +
                      std::to_string(ledger::kConfigMapViewRefresh.count()) + "s)");
  }
  auto key = ledger::LoadOrCreateKey(o.url, o.ledger_key);
  if (!key.ok()) return UsageError("--ledger-key: " + key.status().message());
  ledger::LedgerOptions lo;
  lo.signing_key_path = o.ledger_key;
  auto writer = ledger::OpenLedger(o.url, lo);
  if (!writer.ok()) return UsageError("--ledger " + o.url + ": " + writer.status().message());
  ledger::RetentionOptions ro;
  ro.keep_segments = o.keep_segments;
  ro.archive_url = o.to;
  ro.origin = (*writer)->Origin();  // the base's note verifies as the checkpoints do
  ro.now = SystemClock::Get().Now();
  ro.min_age = std::chrono::duration_cast<std::chrono::seconds>(*min_age);
  auto r = ledger::RunRetention(o.url, **writer, *key, ro);
  Status closed = (*writer)->Close();
  if (!r.ok()) return UsageError(r.status().message());
  if (!closed.ok()) return UsageError("closing the ledger: " + closed.message());
  std::cout << "moved " << r->moved_segments << " segments (" << r->moved_records
            << " records appended to the archive); the cluster now holds records from seq " << r->first_seq
            << ", segment " << r->first_segment << "\n";
  if (r->completed_earlier) std::cout << "completed a move an earlier run left unfinished\n";
  if (!r->held_by.empty()) std::cout << "stopped: " << r->held_by << "\n";
  return kExitOk;
}

}  // namespace

void RegisterLedger(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<LedgerOptions>();
  auto* ledger = app.add_subcommand("ledger", "Audit the lineage ledger: verify, show, proof, verify-proof, consistency, export, serve, witness");
  ledger->require_subcommand(1);

  auto* verify = ledger->add_subcommand("verify", "Verify every record, link, checkpoint and the Merkle root");
  verify->add_option("--ledger", o->url, "ledger URL (file:PATH, etcd://..., configmap://...)")->required();
  verify->add_option("--checkpoint-key", o->checkpoint_key, "the ledger key's public half (SPKI PEM)");
  verify->add_option("--checkpoint", o->checkpoint, "a signed checkpoint kept from earlier (with --witness-key, default: the cosigned one kept beside the ledger)");
  verify->add_option("--archive", o->archive, "where retention moved the oldest records (file:PATH, etcd://...)");
  verify->add_option("--witness-key", o->witness_keys, "a witness's verifier key: --checkpoint must carry its cosignature; repeat");
  verify->add_option("--min-witnesses", o->min_witnesses, "cosignatures by --witness-key keys required (default: all)");
  verify->callback([o, exit_code] { *exit_code = RunVerify(*o); });

  auto* show = ledger->add_subcommand("show", "Print records");
  show->add_option("--ledger", o->url, "ledger URL")->required();
  show->add_option("--from", o->from, "first seq");
  show->add_option("--archive", o->archive, "where retention moved the oldest records");
  show->add_option("--limit", o->limit, "at most this many records");
  show->add_option("-o,--output", o->output, "json (canonical records, one per line) or table");
  show->add_option("--object", o->object, "NAME, NAMESPACE/NAME, KIND/NAMESPACE/NAME or uid");
  show->add_option("--jti", o->jti, "artifact jti (a grant's too)");
  show->add_option("--story", o->story, "SEQ: the execution record SEQ belongs to, as the console's story graph shows it "
                                        "(its parent chain, then its request, approvals, grant, Job, Pods and refusals)")
      ->check(CLI::NonNegativeNumber);
  show->add_option("--decision", o->decision, "allowed or denied");
  show->add_option("--type", o->type, "admission, execution, outcome, policy, retention or checkpoint");
  show->callback([o, exit_code] { *exit_code = RunShow(*o); });

  auto* proof = ledger->add_subcommand("proof", "Print an inclusion proof against the latest checkpoint");
  proof->add_option("--ledger", o->url, "ledger URL")->required();
  proof->add_option("--seq", o->seq, "the record's seq")->required();
  proof->add_option("--archive", o->archive, "where retention moved the oldest records");
  proof->callback([o, exit_code] { *exit_code = RunProof(*o); });

  auto* ex = ledger->add_subcommand(
      "export", "Move a configmap:// ledger's oldest sealed segments to an archive, or write the ledger as tlog tiles");
  ex->add_option("--ledger", o->url, "configmap://NAMESPACE[/origin] ledger URL (any URL with --tiles)")->required();
  ex->add_option("--to", o->to, "the archive ledger URL (file:PATH, etcd://...)");
  ex->add_option("--keep-segments", o->keep_segments, "sealed segments left in the cluster")->capture_default_str();
  ex->add_option("--ledger-key", o->ledger_key, "the ledger's Ed25519 key (signs the cut)");
  ex->add_option("--tiles", o->tiles_dir, "write the C2SP tlog-tiles layout of the ledger here instead");
  ex->add_option("--checkpoint-key", o->checkpoint_key, "with --tiles: check each checkpoint's signature");
  ex->add_option("--archive", o->archive, "with --tiles: where retention moved the oldest records");
  ex->add_option("--min-age", o->min_age, "move no segment younger than this")->capture_default_str();
  ex->callback([o, exit_code] { *exit_code = RunExport(*o); });

  auto* cons = ledger->add_subcommand("consistency", "Print a consistency proof from a kept checkpoint to the latest one");
  cons->add_option("--ledger", o->url, "ledger URL")->required();
  cons->add_option("--from", o->checkpoint, "the signed checkpoint kept from earlier")->required();
  cons->add_option("--checkpoint-key", o->checkpoint_key, "check both checkpoints' signatures first (SPKI PEM)");
  cons->add_option("--archive", o->archive, "where retention moved the oldest records");
  cons->callback([o, exit_code] { *exit_code = RunConsistency(*o); });

  auto* vc = ledger->add_subcommand("verify-consistency", "Check a consistency proof (JSON on stdin) offline");
  vc->add_option("--checkpoint-key", o->checkpoint_key, "the ledger key's public half (SPKI PEM)")->required();
  vc->add_option("--from", o->checkpoint, "the checkpoint you kept: the proof must start at it");
  vc->callback([o, exit_code] { *exit_code = RunVerifyConsistency(*o); });

  auto* wit = ledger->add_subcommand("witness", "Ask witnesses to cosign the latest checkpoint (C2SP tlog-witness)");
  wit->add_option("--ledger", o->url, "ledger URL")->required();
  wit->add_option("--witness", o->witnesses, "a witness's URL (its add-checkpoint prefix); repeat")->required();
  wit->add_option("--witness-key", o->witness_keys, "that witness's verifier key, in the same order")->required();
  wit->add_option("--checkpoint-key", o->checkpoint_key, "check the checkpoint's signature first (SPKI PEM)");
  wit->add_option("--archive", o->archive, "where retention moved the oldest records");
  wit->add_option("--min-witnesses", o->min_witnesses, "cosignatures required (default: every witness)");
  wit->add_option("--out", o->out, "write the cosigned checkpoint here (default: stdout)");
  wit->callback([o, exit_code] { *exit_code = RunWitnessRequest(*o); });

  auto* vk = ledger->add_subcommand("vkey", "Print the ledger's note verifier key (what a witness is given)");
  vk->add_option("--checkpoint-key", o->checkpoint_key, "the ledger key's public half (SPKI PEM)")->required();
  vk->add_option("--origin", o->origin, "the ledger's origin (default: its latest checkpoint's)");
  vk->add_option("--ledger", o->url, "ledger URL, to read the origin from");
  vk->callback([o, exit_code] { *exit_code = RunVkey(*o); });

  auto* serve = ledger->add_subcommand("serve", "Serve the ledger read-only as a C2SP tlog-tiles log");
  serve->add_option("--ledger", o->url, "ledger URL")->required();
  serve->add_option("--listen", o->listen, "HOST:PORT (port 0: any free port, printed)")->required();
  serve->add_option("--checkpoint-key", o->checkpoint_key, "publish only checkpoints signed by this key (SPKI PEM)");
  serve->add_option("--archive", o->archive, "where retention moved the oldest records");
  serve->add_option("--tls-cert", o->tls_cert, "serve HTTPS with this certificate (PEM)");
  serve->add_option("--tls-key", o->tls_key, "its private key (PEM)");
  serve->add_option("--refresh", o->refresh, "how often new records are read")->capture_default_str();
  serve->callback([o, exit_code] { *exit_code = RunServe(*o); });

  auto* vp = ledger->add_subcommand("verify-proof", "Check an inclusion proof (JSON on stdin)");
  vp->add_option("--checkpoint-key", o->checkpoint_key, "the ledger key's public half (SPKI PEM)")->required();
  vp->callback([o, exit_code] { *exit_code = RunVerifyProof(*o); });
}

}  // namespace execgov::cmd
