// Verification done in the browser, trusting nothing the server says:
// RFC 9162 Merkle inclusion (§2.1.3.2) and consistency (§2.1.4.2) with
// SHA-256, and C2SP signed notes (https://c2sp.org/signed-note) carrying a
// C2SP tlog-checkpoint, whose Ed25519 signature is checked with WebCrypto
// against a key the user pinned.

const enc = new TextEncoder();

export function b64decode(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

export async function leafHash(record: string): Promise<Uint8Array> {
  return sha256(concat(new Uint8Array([0]), enc.encode(record)));
}

async function nodeHash(l: Uint8Array, r: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(new Uint8Array([1]), l, r));
}

export class VerifyError extends Error {}

// RFC 9162 §2.1.3.2. Sizes as BigInt: JavaScript's bit operators are 32-bit.
export async function verifyInclusion(
  index: bigint,
  size: bigint,
  leaf: Uint8Array,
  path: Uint8Array[],
  root: Uint8Array,
): Promise<void> {
  if (index >= size) throw new VerifyError("the index is not below the tree size");
  for (const p of path) if (p.length !== 32) throw new VerifyError("a proof hash is not 32 bytes");
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) throw new VerifyError("the proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("the proof is shorter than the tree is deep");
  if (!equal(r, root)) throw new VerifyError("the path does not lead to the signed root");
}

// RFC 9162 §2.1.4.2.
export async function verifyConsistency(
  size1: bigint,
  size2: bigint,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): Promise<void> {
  if (size1 > size2) throw new VerifyError("the first tree is larger than the second");
  for (const p of proof) if (p.length !== 32) throw new VerifyError("a proof hash is not 32 bytes");
  if (size1 === size2) {
    if (proof.length !== 0) throw new VerifyError("a proof between equal sizes must be empty");
    if (!equal(root1, root2)) throw new VerifyError("two different roots for the same size: a fork");
    return;
  }
  if (size1 === 0n) {
    if (proof.length !== 0) throw new VerifyError("a proof from the empty tree must be empty");
    return;
  }
  if (proof.length === 0) throw new VerifyError("the consistency proof is empty");
  let path = proof;
  if ((size1 & (size1 - 1n)) === 0n) path = [root1, ...proof];
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new VerifyError("the consistency proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("the consistency proof is too short");
  if (!equal(fr, root1)) throw new VerifyError("the proof does not lead to the earlier root");
  if (!equal(sr, root2)) throw new VerifyError("the proof does not lead to the later root");
}

export interface Checkpoint {
  origin: string;
  size: bigint;
  root: Uint8Array;
  note: string;
}

// Parses a signed checkpoint without trusting it (checkpoint.h's format).
export function parseCheckpoint(note: string): { cp: Checkpoint; text: string; sigs: string[] } {
  if (note.length > 16384) throw new VerifyError("the checkpoint is too long");
  const split = note.indexOf("\n\n");
  if (split < 0) throw new VerifyError("not a signed note: no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const lines = text.split("\n");
  if (lines.length < 4) throw new VerifyError("not a checkpoint: it needs origin, size and root");
  const [origin, sizeText, rootText] = lines;
  if (!/^[0-9]{1,19}$/.test(sizeText)) throw new VerifyError("the checkpoint's size is not a number");
  const root = b64decode(rootText);
  if (root.length !== 32) throw new VerifyError("the checkpoint's root is not 32 bytes");
  const sigs = note
    .slice(split + 2)
    .split("\n")
    .filter((l) => l.length > 0);
  return { cp: { origin, size: BigInt(sizeText), root, note }, text, sigs };
}

export interface PinnedKey {
  raw: Uint8Array; // the 32-byte Ed25519 public key
  key: CryptoKey;
}

// Accepts the ledger's public key as PEM (SPKI, ledger.jsonl.key.pub) or as a
// signed-note verifier key "<name>+<hex hash>+<base64(0x01 || key)>".
// A C2SP signed-note verifier key "<name>+<hex key ID>+<base64 key>" cut at
// its first two '+': the name and the ID cannot hold one, but the base64 key
// holds '+' about half the time (splitting on every '+' refused those keys).
function splitVerifierKey(t: string): [string, string, string] | null {
  const a = t.indexOf("+");
  const b = a < 0 ? -1 : t.indexOf("+", a + 1);
  if (b < 0) return null;
  return [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
}

export async function importPinnedKey(text: string): Promise<PinnedKey> {
  const t = text.trim();
  let raw: Uint8Array;
  if (t.startsWith("-----BEGIN PUBLIC KEY-----")) {
    const body = t.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const der = b64decode(body);
    // Ed25519 SPKI: a fixed 12-byte prefix, then the key.
    const prefix = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    if (der.length !== 44 || !prefix.every((b, i) => der[i] === b)) {
      throw new VerifyError("not an Ed25519 public key (the ledger key is Ed25519)");
    }
    raw = der.slice(12);
  } else {
    const parts = splitVerifierKey(t);
    if (!parts) throw new VerifyError("paste the PEM public key or a note verifier key");
    const k = b64decode(parts[2]);
    if (k.length !== 33 || k[0] !== 1) throw new VerifyError("not an Ed25519 note verifier key");
    raw = k.slice(1);
  }
  const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return { raw, key };
}

// The signed-note key hash: SHA-256(name || "\n" || 0x01 || key)[:4].
async function keyHash(name: string, raw: Uint8Array): Promise<Uint8Array> {
  return (await sha256(concat(enc.encode(name), new Uint8Array([0x0a, 0x01]), raw))).slice(0, 4);
}

// Verifies that the note carries a signature by `pinned` under the key name
// equal to its own origin; returns the checkpoint.
export async function openCheckpoint(note: string, pinned: PinnedKey): Promise<Checkpoint> {
  const { cp, text, sigs } = parseCheckpoint(note);
  const want = await keyHash(cp.origin, pinned.raw);
  for (const line of sigs) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== cp.origin) continue;
    const sig = b64decode(m[2]);
    if (sig.length !== 68 || !equal(sig.slice(0, 4), want)) continue;
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, pinned.key, sig.slice(4), enc.encode(text));
    if (ok) return cp;
    throw new VerifyError("the checkpoint's signature does not verify under the pinned key");
  }
  throw new VerifyError("the checkpoint is not signed by the pinned key under its origin");
}

export interface InclusionProof {
  origin: string;
  seq: number;
  size: number;
  leafHash: string;
  proof: string[];
  record: string;
  checkpoint: string;
}

// The whole check of `execgov ledger verify-proof`, in the browser.
export async function verifyInclusionProof(p: InclusionProof, pinned: PinnedKey): Promise<Checkpoint> {
  if (typeof p.record !== "string" || typeof p.checkpoint !== "string" || !Array.isArray(p.proof)) {
    throw new VerifyError("not an inclusion proof");
  }
  const cp = await openCheckpoint(p.checkpoint, pinned);
  if (cp.origin !== p.origin) throw new VerifyError("the proof's origin is not the checkpoint's");
  if (cp.size !== BigInt(p.size)) throw new VerifyError("the proof's size is not the checkpoint's");
  const leaf = await leafHash(p.record);
  if (!equal(leaf, b64decode(p.leafHash))) throw new VerifyError("the record does not hash to leafHash");
  let rec: { seq?: unknown };
  try {
    rec = JSON.parse(p.record);
  } catch {
    throw new VerifyError("the record is not JSON");
  }
  if (rec.seq !== p.seq) throw new VerifyError("the record's seq is not the proof's seq");
  await verifyInclusion(BigInt(p.seq), cp.size, leaf, p.proof.map(b64decode), cp.root);
  return cp;
}

// A witness's key as C2SP tlog-cosignature gives it: the note verifier key
// "<name>+<hex key ID>+<base64(0x04 || Ed25519 key)>" (execgov witness
// --print-vkey), its key ID SHA-256(name || "\n" || 0x04 || key)[:4].
export interface WitnessKey {
  name: string;
  id: Uint8Array;
  key: CryptoKey;
}

export async function importWitnessKey(vkey: string): Promise<WitnessKey> {
  const t = vkey.trim();
  if (t.length > 1024) throw new VerifyError("a witness key is a short line");
  const parts = splitVerifierKey(t);
  if (!parts || parts[0] === "" || /\s/.test(parts[0]) || !/^[0-9a-f]{8}$/.test(parts[1])) {
    throw new VerifyError("not a witness verifier key (<name>+<hex key ID>+<base64 key>)");
  }
  let k: Uint8Array;
  try {
    k = b64decode(parts[2]);
  } catch {
    throw new VerifyError("the witness key is not base64");
  }
  if (k.length !== 33 || k[0] !== 0x04) throw new VerifyError("not a witness (cosignature/v1, type 0x04) Ed25519 key");
  const raw = k.slice(1);
  const id = (await sha256(concat(enc.encode(parts[0]), new Uint8Array([0x0a, 0x04]), raw))).slice(0, 4);
  if (hex(id) !== parts[1]) throw new VerifyError("the witness key's ID does not match its name and key");
  const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return { name: parts[0], id, key };
}

// How many of `witnesses` validly cosigned the checkpoint note (C2SP
// tlog-cosignature/v1: a line "— <name> base64(key ID || 8-byte big-endian
// time || Ed25519 signature)" over "cosignature/v1\ntime <time>\n" and the
// checkpoint text). A cosignature by a pinned witness that does not verify
// is an error, not a miss: someone forged or altered it.
export async function countCosignatures(note: string, witnesses: WitnessKey[]): Promise<number> {
  const { text, sigs } = parseCheckpoint(note);
  let n = 0;
  for (const w of witnesses) {
    for (const line of sigs) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== w.name) continue;
      let sig: Uint8Array;
      try {
        sig = b64decode(m[2]);
      } catch {
        continue;
      }
      if (sig.length !== 76 || !equal(sig.slice(0, 4), w.id)) continue;
      let time = 0n;
      for (const b of sig.slice(4, 12)) time = (time << 8n) | BigInt(b);
      const signed = enc.encode(`cosignature/v1\ntime ${time}\n${text}`);
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, w.key, sig.slice(12), signed))) {
        throw new VerifyError(`the cosignature by witness ${w.name} does not verify`);
      }
      n++;
      break;
    }
  }
  return n;
}
