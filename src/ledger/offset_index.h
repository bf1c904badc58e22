// Where a file ledger's records are, findable by record hash, in about 23
// bytes per record instead of the ~60 a set of whole hashes takes: a
// long-running `execgov serve` keeps one entry per record it ever wrote.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "core/status.h"
#include "ledger/merkle.h"

namespace execgov::ledger {

// Each record's first 8 hash bytes and its offset, in insertion order (a
// deque: growing never copies them), and open-addressed tables (linear
// probing) of record numbers keyed by those 8 bytes. A prefix match is only
// a candidate: Find has the caller confirm it by reading the record, so a
// made-up hash that shares a real record's prefix is not "found".
//
// The record numbers are spread over kTables (64) tables by the prefix's top
// bits, each doubled on its own, so a doubling stops the ledger's writer for
// a 64th of what one table's did: over a million inserts the longest single
// Insert went from 19-22 ms to under 1 ms. The tables fill evenly, since
// hashes are uniform (and stay correct when they are not).
class OffsetIndex {
 public:
  // Records that the record with hash `h` starts at `offset`. False (and
  // nothing recorded) once the index holds 2^32 - 1 records.
  bool Insert(const Hash& h, uint64_t offset);

  // Calls confirm(offset) -> StatusOr<bool> for each candidate offset of `h`
  // until one returns true (found) or an error; false if none does.
  template <typename Confirm>
  StatusOr<bool> Find(const Hash& h, Confirm&& confirm) const {
    const uint64_t prefix = Prefix(h);
    const std::vector<uint32_t>& slots = tables_[TableOf(prefix)].slots;
    if (slots.empty()) return false;
    const uint64_t mask = slots.size() - 1;
    for (uint64_t i = prefix & mask;; i = (i + 1) & mask) {
      uint32_t slot = slots[i];
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
  static constexpr int kTableBits = 6;
  static constexpr size_t kTables = size_t(1) << kTableBits;
  struct Table {
    std::vector<uint32_t> slots;  // a power of two in size; 0 empty, else an entries_ index + 1
    size_t used = 0;
  };
  static size_t TableOf(uint64_t prefix) { return prefix >> (64 - kTableBits); }
  // Puts record `number` (entries_[number - 1]) in `slots`.
  void Place(std::vector<uint32_t>& slots, uint32_t number) const;
  void Grow(Table& t);

  std::deque<Entry> entries_;
  std::array<Table, kTables> tables_;
};

}  // namespace execgov::ledger
