// Command witnesscheck plays a third-party transparency log against
// `execgov witness`, with golang.org/x/mod/sumdb/{note,tlog} for the log's
// tree, checkpoints and proofs and filippo.io/torchwood's tlog-cosignature
// verifier for the witness's answers, so execgov's witness is checked by
// code that is not execgov's.
//
//	witnesscheck setup DIR          keys: DIR/log.vkey, DIR/witness.key (PKCS#8), DIR/witness.vkey
//	witnesscheck run DIR URL        the protocol against the witness at URL
//	witnesscheck restarted DIR URL  after a restart the witness still knows size 9
//
// Exit 0 and a last line "... ok" when every answer is the one C2SP
// tlog-witness requires; 1 otherwise.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	origin      = "execgov.interop/log"
	witnessName = "execgov.interop/witness"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "witnesscheck: "+format+"\n", args...)
	os.Exit(1)
}

func must[T any](v T, err error) T {
	if err != nil {
		fail("%v", err)
	}
	return v
}

// A log: records "entry i" (and a fork's "fork i"), hashed by tlog.
type treeLog struct {
	hashes []tlog.Hash
	n      int64
}

func newLog(n int, prefix string) *treeLog {
	l := &treeLog{}
	for i := 0; i < n; i++ {
		stored := must(tlog.StoredHashes(l.n, []byte(fmt.Sprintf("%s %d", prefix, i)), l.reader()))
		l.hashes = append(l.hashes, stored...)
		l.n++
	}
	return l
}

func (l *treeLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

func (l *treeLog) root(n int64) tlog.Hash { return must(tlog.TreeHash(n, l.reader())) }

func (l *treeLog) checkpoint(signer note.Signer, n int64) []byte {
	c := torchwood.Checkpoint{Origin: origin, Tree: tlog.Tree{N: n, Hash: l.root(n)}}
	return must(note.Sign(&note.Note{Text: c.String()}, signer))
}

func (l *treeLog) proof(from, to int64) tlog.TreeProof {
	return must(tlog.ProveTree(to, from, l.reader()))
}

type keys struct {
	logSigner note.Signer
	logVerif  note.Verifier
	cosigner  *torchwood.CosignatureSigner
	stranger  note.Signer
}

func setup(dir string) {
	skey, vkey := must2(note.GenerateKey(rand.Reader, origin))
	_, wpriv := must2(ed25519.GenerateKey(rand.Reader))
	der := must(x509.MarshalPKCS8PrivateKey(wpriv))
	cos := must(torchwood.NewCosignatureSigner(witnessName, wpriv))
	write := func(name string, data []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			fail("%v", err)
		}
	}
	write("log.skey", []byte(skey), 0o600)
	write("log.vkey", []byte(vkey+"\n"), 0o644)
	write("witness.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	write("witness.vkey", []byte(cos.Verifier().String()+"\n"), 0o644)
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		fail("%v", err)
	}
	return a, b
}

func load(dir string) keys {
	read := func(name string) string { return strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, name))))) }
	var k keys
	k.logSigner = must(note.NewSigner(read("log.skey")))
	k.logVerif = must(note.NewVerifier(read("log.vkey")))
	block, _ := pem.Decode([]byte(read("witness.key")))
	wpriv := must(x509.ParsePKCS8PrivateKey(block.Bytes)).(ed25519.PrivateKey)
	k.cosigner = must(torchwood.NewCosignatureSigner(witnessName, wpriv))
	other, _ := must2(note.GenerateKey(rand.Reader, origin))
	k.stranger = must(note.NewSigner(other))
	return k
}

func post(url string, old int64, proof tlog.TreeProof, checkpoint []byte) (int, string, string) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", h)
	}
	b.WriteString("\n")
	b.Write(checkpoint)
	resp := must(http.Post(strings.TrimSuffix(url, "/")+"/add-checkpoint", "text/plain", &b))
	defer resp.Body.Close()
	body := must(io.ReadAll(resp.Body))
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func expect(what string, got, want int, body string) {
	if got != want {
		fail("%s: HTTP %d, want %d (%s)", what, got, want, strings.TrimSpace(body))
	}
}

// cosigned checks the answer with note.Open and torchwood's cosignature verifier.
func cosigned(k keys, checkpoint []byte, body string) {
	n := must(note.Open(append(checkpoint, body...), note.VerifierList(k.logVerif, k.cosigner.Verifier())))
	for _, sig := range n.Sigs {
		if sig.Name == witnessName && sig.Hash == k.cosigner.KeyHash() {
			if _, err := torchwood.CosignatureTimestamp(sig); err != nil {
				fail("cosignature timestamp: %v", err)
			}
			return
		}
	}
	fail("no cosignature by %s in %q", witnessName, body)
}

func run(dir, url string) {
	k := load(dir)
	good := newLog(12, "entry")
	fork := newLog(12, "fork")

	cp5 := good.checkpoint(k.logSigner, 5)
	code, _, body := post(url, 0, nil, cp5)
	expect("the first checkpoint", code, 200, body)
	cosigned(k, cp5, body)

	cp9 := good.checkpoint(k.logSigner, 9)
	code, ctype, body := post(url, 0, nil, cp9)
	expect("a stale old size", code, 409, body)
	if body != "5\n" || ctype != "text/x.tlog.size" {
		fail("409 answered %q as %q, want \"5\\n\" as text/x.tlog.size", body, ctype)
	}
	code, _, body = post(url, 5, good.proof(5, 9), cp9)
	expect("an extension", code, 200, body)
	cosigned(k, cp9, body)

	code, _, body = post(url, 9, fork.proof(9, 12), fork.checkpoint(k.logSigner, 12))
	expect("a fork after the cosigned size", code, 422, body)
	code, _, body = post(url, 9, nil, fork.checkpoint(k.logSigner, 9))
	expect("a fork at the cosigned size", code, 409, body)
	code, _, body = post(url, 9, nil, good.checkpoint(k.logSigner, 7))
	expect("a rollback", code, 400, body)
	code, _, body = post(url, 5, good.proof(5, 12), good.checkpoint(k.logSigner, 12))
	expect("an old size the witness has moved past", code, 409, body)
	code, _, body = post(url, 0, nil, good.checkpoint(k.stranger, 12))
	expect("a checkpoint signed by another key", code, 403, body)
	other := must(note.Sign(&note.Note{Text: "example.com/unknown\n1\n" + tlog.RecordHash([]byte("x")).String() + "\n"}, k.logSigner))
	code, _, body = post(url, 0, nil, other)
	expect("an unknown origin", code, 404, body)
	fmt.Println("execgov witness ok")
}

func restarted(dir, url string) {
	k := load(dir)
	good := newLog(12, "entry")
	code, _, body := post(url, 0, nil, good.checkpoint(k.logSigner, 12))
	expect("after a restart", code, 409, body)
	if body != "9\n" {
		fail("after a restart the witness knows size %q, want 9", strings.TrimSpace(body))
	}
	code, _, body = post(url, 9, good.proof(9, 12), good.checkpoint(k.logSigner, 12))
	expect("an extension after a restart", code, 200, body)
	fmt.Println("restarted witness ok")
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: witnesscheck setup DIR | run DIR URL | restarted DIR URL")
	}
	switch os.Args[1] {
	case "setup":
		setup(os.Args[2])
	case "run", "restarted":
		if len(os.Args) != 4 {
			fail("usage: witnesscheck %s DIR URL", os.Args[1])
		}
		if os.Args[1] == "run" {
			run(os.Args[2], os.Args[3])
		} else {
			restarted(os.Args[2], os.Args[3])
		}
	default:
		fail("unknown command %q", os.Args[1])
	}
}
