// Signed-note checkpoints: round trip, the exact C2SP form, and refusals.
#include "ledger/checkpoint.h"

#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "ledger/merkle.h"

namespace execgov::ledger {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  Checkpoint cp_{"execgov.local/test", 12, LeafHash("root")};
};

TEST_F(CheckpointTest, SignsInTheC2spFormAndOpens) {
  auto note = SignCheckpoint(cp_, key_);
  ASSERT_TRUE(note.ok());
  std::string body = "execgov.local/test\n12\n" + crypto::Base64Encode(crypto::HashBytes(cp_.root)) + "\n";
  ASSERT_EQ(note->substr(0, body.size() + 1), body + "\n");
  EXPECT_EQ(note->substr(body.size() + 1, 4 + cp_.origin.size()), "\xe2\x80\x94 " + cp_.origin);
  auto opened = OpenCheckpoint(*note, key_.Public());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->size, 12u);
  EXPECT_EQ(opened->root, cp_.root);
  EXPECT_EQ(opened->origin, cp_.origin);
}

TEST_F(CheckpointTest, RefusesOtherKeysAndEdits) {
  auto note = *SignCheckpoint(cp_, key_);
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  EXPECT_EQ(OpenCheckpoint(note, other->Public()).status().code(), StatusCode::kPermissionDenied);
  std::string edited = note;
  edited.replace(edited.find("\n12\n"), 4, "\n13\n");
  EXPECT_EQ(OpenCheckpoint(edited, key_.Public()).status().code(), StatusCode::kPermissionDenied);
  // Signed by another key under our name: the key hash does not match.
  auto forged = *SignCheckpoint(cp_, *other);
  EXPECT_EQ(OpenCheckpoint(forged, key_.Public()).status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(OpenCheckpoint("not a note", key_.Public()).ok());
  EXPECT_FALSE(SignCheckpoint({"has space", 1, cp_.root}, key_).ok());
}

TEST_F(CheckpointTest, IgnoresCosignaturesByOtherKeys) {
  auto note = *SignCheckpoint(cp_, key_);
  auto witness = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  Checkpoint w = cp_;
  w.origin = "witness.example";
  std::string wnote = *SignCheckpoint(w, *witness);
  note += wnote.substr(wnote.find("\xe2\x80\x94"));  // append the witness's signature line
  EXPECT_TRUE(OpenCheckpoint(note, key_.Public()).ok());
}

TEST_F(CheckpointTest, VerifierKeyHasGoNoteForm) {
  auto vkey = NoteVerifierKey(cp_.origin, key_.Public());
  ASSERT_TRUE(vkey.ok());
  EXPECT_EQ(vkey->rfind(cp_.origin + "+", 0), 0u);
  EXPECT_EQ(vkey->at(cp_.origin.size() + 1 + 8), '+');  // name+<8 hex digits>+<base64 key>
}

}  // namespace
}  // namespace execgov::ledger
