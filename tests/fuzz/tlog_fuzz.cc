// The two parsers issue 23 put on the network: a tile path of `ledger serve`
// (ledger::ParseTilePath) and the body of a witness's add-checkpoint
// (ledger::Witness::AddCheckpoint). Every input goes to both. Properties
// beyond "no crash, no UB, no leak": a path that parses is canonical (it
// prints back as itself, modulo a leading "/", and parses back to the same
// reference); the witness answers only with the protocol's statuses, and a
// 200 carries a cosignature that verifies over the checkpoint it was given.
//
// The seeds (corpus/tlog) are add-checkpoint bodies signed by the key whose
// public half is kLogKey (its private half was not kept) and tile paths.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "crypto/keys.h"
#include "ledger/cosignature.h"
#include "ledger/tiles.h"
#include "ledger/witness.h"

using namespace execgov;

namespace {

constexpr char kOrigin[] = "fuzz.example/log";
constexpr const char* kLogKey = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAtL0GHxTkwXJ925aP2M9KCbgoqin9bkLwpMahWeCanaA=
-----END PUBLIC KEY-----
)";
constexpr char kWitnessName[] = "witness.fuzz.example";

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "tlog_fuzz: %s\n", what);
  std::abort();
}

struct Fixture {
  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("execgov-tlog-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto log_pub = crypto::PublicKey::FromPem(kLogKey);
    if (!log_pub.ok()) Fail("the seed key does not parse");
    auto log_vkey = ledger::FormatNoteVerifierKey(kOrigin, ledger::kNoteAlgEd25519, *log_pub);
    witness_key = std::make_unique<crypto::PrivateKey>(*crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519));
    auto opened = ledger::Witness::Open(ledger::WitnessOptions{
        kWitnessName, *witness_key, (dir / "state.json").string(), {*ledger::ParseNoteVerifierKey(*log_vkey)}, &clock});
    if (!opened.ok()) Fail("the witness does not open");
    witness = std::move(opened).value();
    vkey = *ledger::ParseNoteVerifierKey(
        *ledger::FormatNoteVerifierKey(kWitnessName, ledger::kNoteAlgCosignatureV1, witness_key->Public()));
  }
  ~Fixture() {
    witness.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  FakeClock clock{1790000000};
  std::unique_ptr<crypto::PrivateKey> witness_key;
  std::unique_ptr<ledger::Witness> witness;
  std::optional<ledger::NoteVerifierKeyParts> vkey;
};

void CheckTilePath(std::string_view input) {
  auto ref = ledger::ParseTilePath(input);
  if (!ref.ok()) return;
  std::string printed = ledger::TilePathOf(*ref);
  std::string_view bare = input;
  if (!bare.empty() && bare.front() == '/') bare.remove_prefix(1);
  if (printed != bare) Fail("a tile path that parses is not canonical");
  auto again = ledger::ParseTilePath(printed);
  if (!again.ok() || !(*again == *ref)) Fail("a printed tile path does not parse back to itself");
}

void CheckAddCheckpoint(Fixture& f, std::string_view body) {
  if (body.size() > ledger::kMaxWitnessRequestBytes) return;  // the server refuses larger bodies first
  ledger::WitnessResponse r = f.witness->AddCheckpoint(body);
  switch (r.status) {
    case 200: {
      // The checkpoint is what follows the first blank line.
      size_t blank = body.find("\n\n");
      if (blank == std::string_view::npos) Fail("200 for a body without a checkpoint");
      auto note = ledger::SplitNote(body.substr(blank + 2));
      if (!note.ok()) Fail("200 for a checkpoint that is not a note");
      if (r.body.empty() || r.body.back() != '\n') Fail("a cosignature without its newline");
      auto t = ledger::VerifyCosignature(*f.vkey, note->text, {r.body.substr(0, r.body.size() - 1)});
      if (!t.ok()) Fail("200 with a cosignature that does not verify");
      break;
    }
    case 400:
    case 403:
    case 404:
    case 409:
    case 422:
      break;
    default:
      Fail("an answer outside C2SP tlog-witness");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;  // one witness per process: its state grows as a real one's
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckTilePath(input);
  CheckAddCheckpoint(fixture, input);
  return 0;
}
