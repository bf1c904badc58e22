// Command ledgercheck verifies an execgov ledger inclusion proof with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, independently
// of execgov's own C++ verifier, so an auditor need not trust execgov's code.
//
//	ledgercheck PROOF.json KEY.pub
//
// Exit 0: the checkpoint is signed by KEY under its origin, the record hashes
// to leafHash, and the proof leads from it to the signed root; and the same
// proof with one bit flipped, or for another index, is refused.
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proofDoc struct {
	Origin     string   `json:"origin"`
	Seq        int64    `json:"seq"`
	Size       int64    `json:"size"`
	LeafHash   string   `json:"leafHash"`
	Proof      []string `json:"proof"`
	Record     string   `json:"record"`
	Checkpoint string   `json:"checkpoint"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ledgercheck: "+format+"\n", args...)
	os.Exit(1)
}

func decodeHash(s string) tlog.Hash {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != tlog.HashSize {
		fail("%q is not base64 of %d bytes", s, tlog.HashSize)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: ledgercheck PROOF.json KEY.pub")
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var doc proofDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		fail("proof: %v", err)
	}
	pemBytes, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		fail("%s: no PEM block", os.Args[2])
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		fail("public key: %v", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		fail("public key is not Ed25519")
	}

	// The signed note: the key name is the ledger's origin.
	vkey, err := note.NewEd25519VerifierKey(doc.Origin, pub)
	if err != nil {
		fail("verifier key: %v", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier: %v", err)
	}
	n, err := note.Open([]byte(doc.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	// The tlog-checkpoint body: origin, size, base64 root.
	sc := bufio.NewScanner(strings.NewReader(n.Text))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 || lines[0] != doc.Origin {
		fail("checkpoint body %q is not for origin %q", n.Text, doc.Origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size != doc.Size {
		fail("checkpoint size %q is not the proof's %d", lines[1], doc.Size)
	}
	root := decodeHash(lines[2])

	leaf := tlog.RecordHash([]byte(doc.Record))
	if leaf != decodeHash(doc.LeafHash) {
		fail("the record does not hash to leafHash")
	}
	var proof tlog.RecordProof
	for _, p := range doc.Proof {
		proof = append(proof, decodeHash(p))
	}
	if err := tlog.CheckRecord(proof, size, root, doc.Seq, leaf); err != nil {
		fail("inclusion proof: %v", err)
	}

	// The checks must be able to fail: a flipped bit and a wrong index are refused.
	if len(proof) > 0 {
		bad := append(tlog.RecordProof(nil), proof...)
		bad[0][0] ^= 1
		if tlog.CheckRecord(bad, size, root, doc.Seq, leaf) == nil {
			fail("a corrupted proof verified")
		}
		if tlog.CheckRecord(proof, size, root, (doc.Seq+1)%size, leaf) == nil {
			fail("the proof verified for another index")
		}
	}
	forged := bytes.Replace([]byte(doc.Checkpoint), []byte("\n"+lines[1]+"\n"), []byte("\n"+strconv.FormatInt(size+1, 10)+"\n"), 1)
	if _, err := note.Open(forged, note.VerifierList(verifier)); err == nil {
		fail("a checkpoint with a changed size still verified")
	}
	fmt.Printf("ok: seq %d is in %s at size %d (root %s), checked with golang.org/x/mod/sumdb\n",
		doc.Seq, doc.Origin, size, lines[2])
}
