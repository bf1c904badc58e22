#include "ledger/tiles.h"

#include <filesystem>
#include <system_error>

#include "core/file.h"
#include "core/log.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

// Longer than any canonical path (tile/63/x072/x057/x594/x037/x927/935.p/255).
constexpr size_t kMaxPathBytes = 96;
// tile/L/ plus at most 7 index elements plus the width.
constexpr size_t kMaxPathElements = 10;
// A hash tile's first index is 256N, so N < 2^56 keeps it within 64 bits.
constexpr uint64_t kMaxTileIndex = (uint64_t{1} << 56) - 1;

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A decimal without leading zeros, at most `max`.
bool ParseSmall(std::string_view s, uint64_t max, uint64_t* out) {
  if (!AllDigits(s) || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v > max) return false;
  *out = v;
  return true;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() <= kMaxPathElements) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string IndexPath(uint64_t n) {
  auto three = [](uint64_t v) {
    std::string s = std::to_string(v);
    return std::string(3 - s.size(), '0') + s;
  };
  std::string out = three(n % 1000);
  for (n /= 1000; n > 0; n /= 1000) out = "x" + three(n % 1000) + "/" + out;
  return out;
}

TileResponse Text(int status, std::string message) {
  return TileResponse{status, "text/plain; charset=utf-8", std::move(message) + "\n", false};
}

std::string HashesBytes(const std::vector<Hash>& hashes, uint64_t from, uint64_t count) {
  std::string out;
  out.reserve(count * 32);
  for (uint64_t i = from; i < from + count; ++i) out += crypto::HashBytes(hashes[i]);
  return out;
}

}  // namespace

StatusOr<TileRef> ParseTilePath(std::string_view path) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  if (path.size() > kMaxPathBytes) return InvalidArgument("the path is longer than any tile path");
  TileRef ref;
  if (path == "checkpoint") return ref;
  auto parts = SplitPath(path);
  if (parts.size() > kMaxPathElements) return InvalidArgument("the path has too many elements");
  if (parts.size() < 3 || parts[0] != "tile") return InvalidArgument("not /checkpoint or a /tile/ path");
  if (parts[1] == "entries") {
    ref.kind = TileRef::Kind::kEntries;
  } else {
    uint64_t level = 0;
    if (!ParseSmall(parts[1], kMaxTileLevel, &level)) return InvalidArgument("the tile level is not 0..63");
    ref.kind = TileRef::Kind::kHashes;
    ref.level = static_cast<int>(level);
  }
  // The index elements, then optionally ".p" on the last one and a width.
  size_t end = parts.size();
  std::string_view last = parts[end - 1];
  bool partial = false;
  if (end >= 4 && parts[end - 2].size() == 5 && parts[end - 2].substr(3) == ".p") {
    uint64_t w = 0;
    if (!ParseSmall(last, kTileWidth - 1, &w) || w == 0) return InvalidArgument("a partial tile's width is 1..255");
    ref.width = static_cast<uint32_t>(w);
    partial = true;
    --end;
  }
  uint64_t index = 0;
  for (size_t i = 2; i < end; ++i) {
    std::string_view e = parts[i];
    bool is_last = i == end - 1;
    if (is_last && partial) e = e.substr(0, 3);
    if (!is_last) {
      if (e.size() != 4 || e[0] != 'x') return InvalidArgument("an index element before the last is x and 3 digits");
      e.remove_prefix(1);
    }
    if (e.size() != 3 || !AllDigits(e)) return InvalidArgument("an index element is 3 digits");
    uint64_t v = static_cast<uint64_t>((e[0] - '0') * 100 + (e[1] - '0') * 10 + (e[2] - '0'));
    if (index > (kMaxTileIndex - v) / 1000) return InvalidArgument("the tile index is too large");
    index = index * 1000 + v;
  }
  ref.index = index;
  // The canonical form only: no x000 element in front, nothing odd left.
  std::string want = TilePathOf(ref);
  if (want != path) return InvalidArgument("not a canonical tile path (it would be " + want + ")");
  return ref;
}

std::string TilePathOf(const TileRef& ref) {
  if (ref.kind == TileRef::Kind::kCheckpoint) return "checkpoint";
  std::string out = ref.kind == TileRef::Kind::kEntries ? "tile/entries/" : "tile/" + std::to_string(ref.level) + "/";
  out += IndexPath(ref.index);
  if (ref.width < kTileWidth) out += ".p/" + std::to_string(ref.width);
  return out;
}

Status AppendBundleEntry(std::string* bundle, std::string_view entry) {
  if (entry.size() > 0xffff) {
    return InvalidArgument("a tlog-tiles entry holds at most 65535 bytes; a record has " + std::to_string(entry.size()));
  }
  bundle->push_back(static_cast<char>(entry.size() >> 8));
  bundle->push_back(static_cast<char>(entry.size() & 0xff));
  bundle->append(entry);
  return Status::Ok();
}

TileLog::TileLog(Backend* backend, TileLogOptions options) : backend_(backend), options_(std::move(options)) {
  levels_.resize(1);
}

Status TileLog::Refresh() {
  std::lock_guard lock(mu_);
  // From the last record already read (Tail may answer from a backend's
  // cache, blind to a file cut under it): it must still be there and the
  // same, or the ledger no longer extends what was served.
  const uint64_t known = state_.size;
  bool seen_last = known == 0;
  Status st = backend_->Scan(known == 0 ? 0 : known - 1, UINT64_MAX, [&](uint64_t seq, std::string_view bytes) -> Status {
    if (!seen_last) {
      if (seq != known - 1 || LeafHash(bytes) != state_.last) {
        return DataLoss("record " + std::to_string(known - 1) + " is not the one already read: the ledger was rewritten");
      }
      seen_last = true;
      return Status::Ok();
    }
    return AddLocked(seq, bytes);
  });
  EXECGOV_RETURN_IF_ERROR(st);
  if (!seen_last) {
    return DataLoss("the ledger has fewer than the " + std::to_string(known) +
                    " records already read: it was truncated or rolled back");
  }
  return Status::Ok();
}

Status TileLog::AddLocked(uint64_t seq, std::string_view bytes) {
  if (seq != state_.size) return DataLoss("the ledger skipped from seq " + std::to_string(state_.size) + " to " + std::to_string(seq));
  auto header = ScanRecord(bytes);
  if (!header.ok()) return DataLoss("seq " + std::to_string(seq) + " is malformed: " + header.status().message());
  std::optional<Checkpoint> publish;
  std::string note;
  if (header->type == "checkpoint") {
    auto text = CheckpointNoteOf(*header);
    if (!text.ok()) return FailedPrecondition("seq " + std::to_string(seq) + ": " + text.status().message());
    note = *text;
    auto cp = options_.checkpoint_key ? OpenCheckpoint(note, *options_.checkpoint_key) : ParseCheckpoint(note);
    if (!cp.ok()) return FailedPrecondition("the checkpoint at seq " + std::to_string(seq) + ": " + cp.status().message());
    if (cp->size != seq || cp->root != state_.tree.Root()) {
      return FailedPrecondition("the checkpoint at seq " + std::to_string(seq) +
                                " is not for the records before it (run ledger verify)");
    }
    if (published_ && cp->origin != published_->origin) {
      return FailedPrecondition("the checkpoint at seq " + std::to_string(seq) + " has origin " + cp->origin +
                                ", earlier ones " + published_->origin);
    }
    publish = *cp;
  }
  // Apply checks seq and prev against the records read before.
  EXECGOV_ASSIGN_OR_RETURN(Hash h, state_.Apply(bytes));
  levels_[0].push_back(h);
  for (size_t k = 0; levels_[k].size() % kTileWidth == 0; ++k) {
    // A complete subtree of 256 nodes at height 8k: its root is the next
    // level's stored hash.
    if (levels_.size() == k + 1) levels_.emplace_back();
    const auto& below = levels_[k];
    std::vector<Hash> group(below.end() - kTileWidth, below.end());
    levels_[k + 1].push_back(RootOf(group));
  }
  if (publish) {
    published_ = publish;
    published_note_ = std::move(note);
    published_size_ = publish->size;
  }
  return Status::Ok();
}

std::optional<Checkpoint> TileLog::Published() const {
  std::lock_guard lock(mu_);
  return published_;
}

uint64_t TileLog::WidthLocked(const TileRef& ref) const {
  int level = ref.kind == TileRef::Kind::kHashes ? ref.level : 0;
  if (kTileHeight * level >= 64) return 0;
  uint64_t nodes = published_size_ >> (kTileHeight * level);
  uint64_t first = ref.index * kTileWidth;  // index <= 2^56 - 1: no overflow
  if (nodes <= first) return 0;
  return std::min<uint64_t>(kTileWidth, nodes - first);
}

std::string TileLog::HashTileLocked(const TileRef& ref) const {
  return HashesBytes(levels_[static_cast<size_t>(ref.level)], ref.index * kTileWidth, ref.width);
}

StatusOr<std::string> TileLog::EntryBundleLocked(const TileRef& ref) {
  uint64_t first = ref.index * kTileWidth;
  std::string bundle;
  uint64_t next = first;
  Status st = backend_->Scan(first, first + ref.width, [&](uint64_t seq, std::string_view bytes) -> Status {
    if (seq != next || LeafHash(bytes) != levels_[0][seq]) {
      return DataLoss("the ledger's record " + std::to_string(seq) + " is not the one whose hash was served");
    }
    ++next;
    return AppendBundleEntry(&bundle, bytes);
  });
  EXECGOV_RETURN_IF_ERROR(st);
  if (next != first + ref.width) return DataLoss("the ledger holds fewer records than were served");
  return bundle;
}

TileResponse TileLog::ServeLocked(const TileRef& ref) {
  if (!published_) return Text(404, "the ledger has no checkpoint yet");
  if (ref.kind == TileRef::Kind::kCheckpoint) return TileResponse{200, "text/plain; charset=utf-8", published_note_, false};
  uint64_t width = WidthLocked(ref);
  if (width < ref.width) {
    return Text(404, TilePathOf(ref) + " is not in the tree of size " + std::to_string(published_size_));
  }
  // A tile is sealed once full; a partial tile's bytes are a prefix of it and never change either.
  if (ref.kind == TileRef::Kind::kHashes) return TileResponse{200, "application/octet-stream", HashTileLocked(ref), true};
  auto bundle = EntryBundleLocked(ref);
  if (!bundle.ok()) {
    log::Error("ledger tiles: cannot serve an entry bundle", {{"path", TilePathOf(ref)}, {"error", bundle.status().message()}});
    return Text(500, "the ledger cannot be served: " + bundle.status().message());
  }
  return TileResponse{200, "application/octet-stream", std::move(bundle).value(), true};
}

TileResponse TileLog::Serve(std::string_view path) {
  path = path.substr(0, path.find('?'));
  auto ref = ParseTilePath(path);
  if (!ref.ok()) {
    // A malformed tile path is the client's error; anything else is not here.
    bool tile = path.substr(0, 6) == "/tile/" || path.substr(0, 5) == "tile/";
    return Text(tile ? 400 : 404, (tile ? "malformed tile path: " : "no such path: ") + ref.status().message());
  }
  std::lock_guard lock(mu_);
  return ServeLocked(*ref);
}

Status TileLog::Export(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (!published_) return FailedPrecondition("the ledger has no checkpoint yet: nothing to export");
  namespace fs = std::filesystem;
  auto write = [&](const TileRef& ref, const std::string& bytes) -> Status {
    fs::path p = fs::path(dir) / TilePathOf(ref);
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Unavailable("cannot create " + p.parent_path().string() + ": " + ec.message());
    if (ref.width == kTileWidth && fs::exists(p, ec)) {
      auto existing = ReadFile(p.string(), 1u << 24);
      if (existing.ok() && *existing == bytes) return Status::Ok();
      return FailedPrecondition(p.string() + " exists with other content: is " + dir + " another log's?");
    }
    return WriteFileAtomic(p.string(), bytes, 0644);
  };
  const uint64_t size = published_size_;
  for (int level = 0; kTileHeight * level < 64 && (size >> (kTileHeight * level)) > 0; ++level) {
    uint64_t nodes = size >> (kTileHeight * level);
    for (uint64_t n = 0; n * kTileWidth < nodes; ++n) {
      TileRef ref{TileRef::Kind::kHashes, level, n, static_cast<uint32_t>(std::min<uint64_t>(kTileWidth, nodes - n * kTileWidth))};
      EXECGOV_RETURN_IF_ERROR(write(ref, HashTileLocked(ref)));
    }
  }
  // Entry bundles in one pass over the records (a file backend's Scan reads
  // from the start of the file).
  std::string bundle;
  Status st = backend_->Scan(0, size, [&](uint64_t seq, std::string_view bytes) -> Status {
    if (LeafHash(bytes) != levels_[0][seq]) {
      return DataLoss("the ledger's record " + std::to_string(seq) + " changed while it was exported");
    }
    EXECGOV_RETURN_IF_ERROR(AppendBundleEntry(&bundle, bytes));
    uint64_t in_tile = seq % kTileWidth + 1;
    if (in_tile == kTileWidth || seq + 1 == size) {
      TileRef ref{TileRef::Kind::kEntries, 0, seq / kTileWidth, static_cast<uint32_t>(in_tile)};
      EXECGOV_RETURN_IF_ERROR(write(ref, bundle));
      bundle.clear();
    }
    return Status::Ok();
  });
  EXECGOV_RETURN_IF_ERROR(st);
  // The checkpoint last: a static server never points at tiles not yet written.
  return WriteFileAtomic((fs::path(dir) / "checkpoint").string(), published_note_, 0644);
}

}  // namespace execgov::ledger
