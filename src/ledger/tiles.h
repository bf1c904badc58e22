// The ledger as a C2SP tlog-tiles log (https://c2sp.org/tlog-tiles), so that
// any standard transparency-log client (Go's golang.org/x/mod/sumdb/tlog,
// filippo.io/torchwood) can fetch its checkpoint, records and proofs:
//
//   /checkpoint                     the latest checkpoint record's signed note
//   /tile/<L>/<N>[.p/<W>]           hash tiles: the 256 (or W) stored hashes at
//                                   tree height 8L, indices 256N..256N+W-1
//   /tile/entries/<N>[.p/<W>]       entry bundles: records 256N.., each as a
//                                   2-byte big-endian length and its bytes
//
// <N> is written in 3-digit path elements, all but the last prefixed with
// "x" (1234067 -> x001/x234/067). A record's entry is its canonical bytes, so
// its tlog leaf hash SHA-256(0x00 || entry) is the ledger's record hash.
//
// The tree served is the one the ledger's own latest checkpoint record
// signs: the checkpoint record at seq S covers records 0..S-1. Nothing past
// it is served (404), since no checkpoint commits to it. A full tile never
// changes once served; a partial tile of width W is the first W hashes of its
// tile, so any width up to what the published tree holds is served, and an
// exported directory holds the partial tiles of its size only.
//
// Serving is a pure function of (log, path) -> (status, content type, bytes)
// so the console's server can serve tiles too (TileLog::Serve).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/chain_state.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"

namespace execgov::ledger {

inline constexpr int kTileHeight = 8;
inline constexpr uint32_t kTileWidth = 256;
// tlog-tiles levels run 0..63.
inline constexpr int kMaxTileLevel = 63;

// A parsed request path.
struct TileRef {
  enum class Kind { kCheckpoint, kHashes, kEntries };
  Kind kind = Kind::kCheckpoint;
  int level = 0;        // hash tiles only
  uint64_t index = 0;
  uint32_t width = kTileWidth;  // 1..256; 256 is a full tile
  bool operator==(const TileRef&) const = default;
};

// Parses a path relative to the log's prefix, with or without a leading
// "/": "checkpoint", "tile/0/x001/234.p/5", "tile/entries/000". Strict: the
// canonical form only (3-digit elements, no x000 element in front, no
// leading zeros in L or W, W in 1..255, L in 0..63), no "." or ".." or
// empty elements, no query; InvalidArgument naming what is wrong otherwise.
StatusOr<TileRef> ParseTilePath(std::string_view path);
// The canonical path, without a leading "/".
std::string TilePathOf(const TileRef& ref);

struct TileResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  // Sealed tiles and bundles may be cached forever (Cache-Control: immutable).
  bool immutable = false;
};

struct TileLogOptions {
  // The ledger key's public half: when set, a checkpoint record is only
  // published if its note verifies under it. Roots are checked either way.
  std::optional<crypto::PublicKey> checkpoint_key;
};

// A ledger served as tiles. Thread-safe: Serve and Refresh may run at once
// from any threads (one at a time inside).
//
// Memory: 32 bytes per record (the leaf hashes) plus 1/255 of that for the
// higher levels. Entry bundles are read from the backend per request.
class TileLog {
 public:
  // `backend` (opened read-only) must outlive the TileLog.
  TileLog(Backend* backend, TileLogOptions options);

  // Reads the records appended since the last call and publishes the latest
  // checkpoint record whose root (and signature, with a key) matches the
  // records before it. DataLoss when the ledger is no longer an extension of
  // what was read before (truncated, rolled back or rewritten): what was
  // published stays published and nothing more is, so a client is never
  // shown two histories by this server. FailedPrecondition for a checkpoint
  // that does not match its records (run ledger verify).
  Status Refresh();

  // Answers a GET for `path` (with or without a leading "/", any query
  // ignored): 200 with the bytes, 400 for a malformed path, 404 for a tile
  // past the published tree (or no checkpoint yet), 500 when the ledger's
  // stored records no longer match the hashes served.
  TileResponse Serve(std::string_view path);

  // The published checkpoint (nullopt before the first).
  std::optional<Checkpoint> Published() const;

  // Writes the layout of the published tree under `dir` (created if
  // absent): checkpoint, every full tile and bundle, and the partial ones
  // of this size. Existing full tiles are rewritten only if they differ,
  // which cannot happen for an extension of the same log: FailedPrecondition
  // if one does (another log's directory).
  Status Export(const std::string& dir);

 private:
  // Folds in the next record, publishing it if it is a checkpoint.
  Status AddLocked(uint64_t seq, std::string_view bytes);
  // The hashes of tile `ref` for the published size (ref already bounded).
  std::string HashTileLocked(const TileRef& ref) const;
  StatusOr<std::string> EntryBundleLocked(const TileRef& ref);
  // The width tile `ref` has in the published tree (0: not in it).
  uint64_t WidthLocked(const TileRef& ref) const;
  TileResponse ServeLocked(const TileRef& ref);

  Backend* backend_;
  TileLogOptions options_;
  mutable std::mutex mu_;
  ChainState state_;                     // over every record read
  std::vector<std::vector<Hash>> levels_;  // levels_[k]: stored hashes at height 8k (complete subtrees)
  uint64_t published_size_ = 0;
  std::string published_note_;
  std::optional<Checkpoint> published_;
};

// C2SP tlog-tiles entry bundle encoding: each entry as a 2-byte big-endian
// length and its bytes. InvalidArgument for an entry over 65535 bytes.
Status AppendBundleEntry(std::string* bundle, std::string_view entry);

}  // namespace execgov::ledger
