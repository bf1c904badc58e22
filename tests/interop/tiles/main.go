// Command tilecheck reads an execgov ledger served as a C2SP tlog-tiles log
// (execgov ledger serve, or a directory written by execgov ledger export
// --tiles) with third-party code only: filippo.io/torchwood's tile fetcher
// and client, golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog.
//
//	tilecheck [-save FILE] [-old FILE] [-consistency FILE] URL|DIR KEY.pub
//
// It verifies the checkpoint's signature by KEY under its origin, reads every
// entry (each checked against the tiles and the signed root), proves and
// checks the inclusion of a few records, and with -old proves and checks the
// consistency of an earlier checkpoint with this one. -consistency checks a
// proof printed by `execgov ledger consistency` with tlog.CheckTree. A DIR is
// served by Go's static file server on a loopback port. Exit 0 and
// "ok size N" when everything verifies, 1 otherwise.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tilecheck: "+format+"\n", args...)
	os.Exit(1)
}

func readKey(path string) ed25519.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		fail("%s is not PEM", path)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		fail("%s: %v", path, err)
	}
	key, ok := pub.(ed25519.PublicKey)
	if !ok {
		fail("%s is not an Ed25519 key", path)
	}
	return key
}

// open verifies a signed checkpoint under the key with the note's own origin as its name.
func open(text []byte, key ed25519.PublicKey) torchwood.Checkpoint {
	origin, _, _ := strings.Cut(string(text), "\n")
	vkey, err := note.NewEd25519VerifierKey(origin, key)
	if err != nil {
		fail("verifier key: %v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier: %v", err)
	}
	n, err := note.Open(text, note.VerifierList(v))
	if err != nil {
		fail("the checkpoint does not verify: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		fail("%v", err)
	}
	if c.Origin != origin {
		fail("origin %q is not the signer's %q", c.Origin, origin)
	}
	return c
}

type consistencyDoc struct {
	Size1 int64    `json:"size1"`
	Size2 int64    `json:"size2"`
	Root1 string   `json:"root1"`
	Root2 string   `json:"root2"`
	Proof []string `json:"proof"`
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
	save := flag.String("save", "", "write the verified checkpoint here")
	old := flag.String("old", "", "an earlier checkpoint of the same log: prove consistency with it")
	consistency := flag.String("consistency", "", "an `execgov ledger consistency` proof to check")
	flag.Parse()
	if flag.NArg() != 2 {
		fail("usage: tilecheck [-save FILE] [-old FILE] [-consistency FILE] URL|DIR KEY.pub")
	}
	base, key := flag.Arg(0), readKey(flag.Arg(1))
	if st, err := os.Stat(base); err == nil && st.IsDir() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("%v", err)
		}
		srv := &http.Server{Handler: http.FileServer(http.Dir(base)), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		base = "http://" + ln.Addr().String() + "/"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fetcher, err := torchwood.NewTileFetcher(base)
	if err != nil {
		fail("%v", err)
	}
	text, err := fetcher.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		fail("fetching the checkpoint: %v", err)
	}
	c := open(text, key)
	tree := c.Tree
	if *save != "" {
		if err := os.WriteFile(*save, text, 0o644); err != nil {
			fail("%v", err)
		}
	}

	// Every entry, each checked by the client against the tiles and the root.
	client, err := torchwood.NewClient(fetcher, torchwood.WithTimeout(time.Minute))
	if err != nil {
		fail("%v", err)
	}
	entries := make([][]byte, 0, tree.N)
	for len(entries) < int(tree.N) {
		before := len(entries)
		for i, e := range client.Entries(ctx, tree, int64(len(entries))) {
			if i != int64(len(entries)) {
				fail("entry %d came as %d", len(entries), i)
			}
			var rec struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal(e, &rec); err != nil || rec.Seq != i {
				fail("entry %d is not the ledger record with seq %d", i, i)
			}
			entries = append(entries, append([]byte(nil), e...))
		}
		if err := client.Err(); err != nil {
			fail("reading entries: %v", err)
		}
		if len(entries) == before {
			fail("the client stopped at %d of %d entries", before, tree.N)
		}
	}

	// Inclusion proofs from the hash tiles, for the first, last and a few between.
	hr := torchwood.TileHashReaderWithContext(ctx, tree, fetcher)
	for _, i := range []int64{0, 1, tree.N / 3, tree.N / 2, tree.N - 2, tree.N - 1} {
		if i < 0 || i >= tree.N {
			continue
		}
		proof, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			fail("proving record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entries[i])); err != nil {
			fail("record %d: %v", i, err)
		}
	}

	if *old != "" {
		text1, err := os.ReadFile(*old)
		if err != nil {
			fail("%v", err)
		}
		c1 := open(text1, key)
		if c1.Origin != c.Origin {
			fail("the earlier checkpoint is of %q, this one of %q", c1.Origin, c.Origin)
		}
		if c1.N > tree.N {
			fail("the log shrank from %d to %d", c1.N, tree.N)
		}
		proof, err := tlog.ProveTree(tree.N, c1.N, hr)
		if err != nil {
			fail("proving consistency: %v", err)
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, c1.N, c1.Hash); err != nil {
			fail("the checkpoint of size %d is not consistent with this one: %v", c1.N, err)
		}
		fmt.Printf("consistent from %d to %d\n", c1.N, tree.N)
	}

	if *consistency != "" {
		data, err := os.ReadFile(*consistency)
		if err != nil {
			fail("%v", err)
		}
		var doc consistencyDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			fail("%s: %v", *consistency, err)
		}
		var proof tlog.TreeProof
		for _, p := range doc.Proof {
			proof = append(proof, decodeHash(p))
		}
		if err := tlog.CheckTree(proof, doc.Size2, decodeHash(doc.Root2), doc.Size1, decodeHash(doc.Root1)); err != nil {
			fail("the execgov consistency proof does not verify: %v", err)
		}
		fmt.Printf("execgov consistency proof from %d to %d verifies\n", doc.Size1, doc.Size2)
	}
	fmt.Printf("ok size %d\n", tree.N)
}
