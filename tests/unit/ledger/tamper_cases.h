// The tamper cases of issue 4, written once for every backend: after a known
// history, each edit an attacker with write access to the store could make
// must be caught by VerifyLedger naming the right seq. A backend's test
// supplies a RecordStore that reads and rewrites its raw records.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/file.h"
#include "crypto/json.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/record.h"
#include "ledger/verifier.h"

namespace execgov::ledger::testing {

class RecordStore {
 public:
  virtual ~RecordStore() = default;
  virtual std::string Url() const = 0;
  virtual std::vector<std::string> Read() = 0;
  // Replaces everything stored with `records` (position = order).
  virtual void Write(const std::vector<std::string>& records) = 0;
};

inline nlohmann::json Entry(int i) {
  return {{"type", "admission"},
          {"decision", i % 3 == 0 ? "denied" : "allowed"},
          {"reason", i % 3 == 0 ? "InvalidSignature" : "Allowed"},
          {"object", {{"kind", "Job"}, {"namespace", "agents"}, {"name", "job-" + std::to_string(i)},
                      {"uid", "uid-" + std::to_string(i)}, {"operation", "CREATE"}}},
          {"user", "system:serviceaccount:agents:runner"},
          {"artifact", {{"iss", "ops"}, {"sub", "agent:a"}, {"kid", "k1"}, {"jti", "jti-" + std::to_string(i)},
                        {"digest", "sha256:00"}}},
          {"policy", {{"name", "default"}, {"generation", 3}}}};
}

inline std::string Resign(const std::string& record, const std::string& note) {
  auto j = crypto::ParseJsonStrict(record);
  EXPECT_TRUE(j.ok());
  (*j)["checkpoint"] = note;
  return *crypto::Canonicalize(*j);
}

inline std::string NoteOf(const std::string& record) {
  auto hdr = ScanRecord(record);
  EXPECT_TRUE(hdr.ok());
  return *CheckpointNoteOf(*hdr);
}

// Writes 40 entries, a checkpoint every 10: checkpoints stand at seq 10, 21,
// 32 and 43 (44 records).
inline void WriteHistory(const std::string& url, const std::string& key_path) {
  FakeClock clock(1790000000);
  LedgerOptions o;
  o.signing_key_path = key_path;
  o.checkpoint_every_records = 10;
  o.checkpoint_every = std::chrono::seconds(3600);
  o.clock = &clock;
  auto ledger = OpenLedger(url, o);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (int i = 0; i < 40; ++i) {
    auto a = (*ledger)->Append(Entry(i));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    clock.Advance(std::chrono::milliseconds(1500));
  }
  ASSERT_TRUE((*ledger)->Close().ok());
}

inline VerifyResult Verify(const std::string& url, const crypto::PublicKey& key,
                           std::optional<std::string> trusted = std::nullopt) {
  auto backend = OpenBackend(url, BackendOptions{.read_only = true});
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  if (!backend.ok()) return {};
  VerifyOptions vo;
  vo.checkpoint_key = key;
  vo.trusted_checkpoint = std::move(trusted);
  auto r = VerifyLedger(**backend, vo);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyResult{};
}

// Records in the ledger that are not checkpoints.
inline uint64_t CountEntries(const std::string& url) {
  auto backend = OpenBackend(url, BackendOptions{.read_only = true});
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  uint64_t n = 0;
  if (!backend.ok()) return 0;
  Status st = (*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view bytes) {
    auto h = ScanRecord(bytes);
    n += h.ok() && h->type != "checkpoint";
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

#define EXPECT_FINDING(result, want_problem, want_seq)                              \
  do {                                                                              \
    auto _r = (result);                                                             \
    EXPECT_EQ(ProblemName(_r.problem), std::string(ProblemName(want_problem))) << _r.message; \
    EXPECT_EQ(_r.bad_seq, uint64_t{want_seq}) << _r.message;                        \
  } while (0)

// Runs every case against a store whose ledger was written by WriteHistory
// with the key at key_path (whose public half is `key`).
inline void RunTamperCases(RecordStore& store, const crypto::PrivateKey& key) {
  const std::vector<std::string> original = store.Read();
  ASSERT_EQ(original.size(), 44u);
  const crypto::PublicKey pub = key.Public();
  const std::string url = store.Url();
  const std::string last_note = NoteOf(original[43]);

  {
    SCOPED_TRACE("untouched");
    auto r = Verify(url, pub, last_note);
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.size, 44u);
    EXPECT_EQ(r.checkpoints, 4u);
  }
  {
    SCOPED_TRACE("one byte of a record changed");
    auto recs = original;
    size_t at = recs[5].find("job-5");
    ASSERT_NE(at, std::string::npos);
    recs[5][at + 4] = '9';
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kHash, 5);
  }
  {
    SCOPED_TRACE("a record deleted");
    auto recs = original;
    recs.erase(recs.begin() + 7);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kGap, 7);
  }
  {
    SCOPED_TRACE("two records swapped");
    auto recs = original;
    std::swap(recs[12], recs[13]);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kGap, 12);
  }
  {
    SCOPED_TRACE("a record inserted");
    auto recs = original;
    // A well-formed forgery that claims seq 15 and links to record 14.
    auto forged = BuildRecord(Entry(99), 15, LeafHash(recs[14]), std::chrono::system_clock::time_point{});
    ASSERT_TRUE(forged.ok());
    recs.insert(recs.begin() + 15, *forged);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kDuplicate, 15);
  }
  {
    SCOPED_TRACE("the tail truncated below the last checkpoint");
    auto recs = original;
    recs.resize(25);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub, last_note), Problem::kTruncated, 25);
  }
  {
    SCOPED_TRACE("a checkpoint re-signed by another key");
    auto recs = original;
    auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    auto cp = ParseCheckpoint(NoteOf(recs[21]));
    ASSERT_TRUE(cp.ok());
    auto note = SignCheckpoint(*cp, *other);
    ASSERT_TRUE(note.ok());
    recs[21] = Resign(recs[21], *note);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kCheckpointSignature, 21);
  }
  {
    SCOPED_TRACE("a checkpoint for a different tree");
    auto recs = original;
    auto cp = ParseCheckpoint(NoteOf(recs[32]));
    ASSERT_TRUE(cp.ok());
    cp->root = LeafHash("another tree");  // validly signed by the ledger key, but not this ledger's root
    auto note = SignCheckpoint(*cp, key);
    ASSERT_TRUE(note.ok());
    recs[32] = Resign(recs[32], *note);
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kCheckpointTree, 32);
  }
  {
    SCOPED_TRACE("a record rewritten with the chain relinked after it");
    auto recs = original;
    // The attacker changes record 24 and repairs every prev and seq after it:
    // the chain is whole again, only the checkpoint at 32 can tell.
    auto j = crypto::ParseJsonStrict(recs[24]);
    (*j)["reason"] = "Forged";
    recs[24] = *crypto::Canonicalize(*j);
    for (size_t i = 25; i < recs.size(); ++i) {
      auto k = crypto::ParseJsonStrict(recs[i]);
      (*k)["prev"] = crypto::HashToSha256Ref(LeafHash(recs[i - 1]));
      recs[i] = *crypto::Canonicalize(*k);
    }
    store.Write(recs);
    EXPECT_FINDING(Verify(url, pub), Problem::kCheckpointTree, 32);
  }
  store.Write(original);
  EXPECT_TRUE(Verify(url, pub, last_note).ok());
}

}  // namespace execgov::ledger::testing
