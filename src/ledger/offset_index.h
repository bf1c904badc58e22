// Where a file ledger's records are, findable by record hash, in about 23
// bytes per record instead of the ~60 a set of whole hashes takes: a
// long-running `execgov serve` keeps one entry per record it ever wrote.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "core/status.h"
#include "ledger/merkle.h"

namespace execgov::ledger {

// Each record's first 8 hash bytes and its offset, in insertion order (a
// deque: growing never copies them), and an open-addressed table (linear
// probing) of record numbers keyed by those 8 bytes. A prefix match is only
// a candidate: Find has the caller confirm it by reading the record, so a
// made-up hash that shares a real record's prefix is not "found".
class OffsetIndex {
 public:
  // Records that the record with hash `h` starts at `offset`. False (and
  // nothing recorded) once the index holds 2^32 - 1 records.
  bool Insert(const Hash& h, uint64_t offset);

  // Calls confirm(offset) -> StatusOr<bool> for each candidate offset of `h`
  // until one returns true (found) or an error; false if none does.
  template <typename Confirm>
  StatusOr<bool> Find(const Hash& h, Confirm&& confirm) const {
    if (slots_.empty()) return false;
    const uint64_t prefix = Prefix(h), mask = slots_.size() - 1;
    for (uint64_t i = prefix & mask;; i = (i + 1) & mask) {
      uint32_t slot = slots_[i];
      if (slot == 0) return false;
      const Entry& e = entries_[slot - 1];
      if (e.prefix != prefix) continue;
      StatusOr<bool> hit = confirm(e.offset);
      if (!hit.ok() || *hit) return hit;
    }
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t prefix;
    uint64_t offset;
  };
  static uint64_t Prefix(const Hash& h) {
    uint64_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
  void Place(uint32_t number);  // puts entries_[number - 1] in slots_
  void Grow();

  std::deque<Entry> entries_;
  std::vector<uint32_t> slots_;  // a power of two in size; 0 empty, else an entries_ index + 1
};

}  // namespace execgov::ledger
