// What this browser keeps for itself (localStorage): the ledger key its user
// pinned and the last checkpoint it saw verified. Neither ever comes from the
// server: the key is pasted by the user, the checkpoint kept only once its
// signature verified under that key.
import { b64decode, b64encode, importPinnedKey, importWitnessKey, PinnedKey, WitnessKey } from "./verify";

const KEY = "execgov.console.pinnedKey";
const SEEN = "execgov.console.lastCheckpoint";
const WITNESSES = "execgov.console.witnessKeys";
const MIN_WITNESSES = "execgov.console.minWitnesses";

export function pinnedKeyText(): string | null {
  return localStorage.getItem(KEY);
}

export async function pinnedKey(): Promise<PinnedKey | null> {
  const t = pinnedKeyText();
  if (!t) return null;
  try {
    return await importPinnedKey(t);
  } catch {
    return null;
  }
}

export async function pinKey(text: string): Promise<void> {
  await importPinnedKey(text); // refuse what is not a key
  localStorage.setItem(KEY, text.trim());
}

export function unpinKey(): void {
  localStorage.removeItem(KEY);
  localStorage.removeItem(SEEN);
}

export interface Seen {
  origin: string;
  size: string; // a decimal string: sizes are BigInt
  root: string; // base64
  note: string;
}

export function lastSeen(): Seen | null {
  const t = localStorage.getItem(SEEN);
  if (!t) return null;
  try {
    const s = JSON.parse(t) as Seen;
    if (typeof s.origin !== "string" || !/^[0-9]+$/.test(s.size) || b64decode(s.root).length !== 32) return null;
    return s;
  } catch {
    return null;
  }
}

export function remember(origin: string, size: bigint, root: Uint8Array, note: string): void {
  localStorage.setItem(SEEN, JSON.stringify({ origin, size: size.toString(), root: b64encode(root), note }));
}

// The witnesses whose cosignatures a checkpoint must carry, and how many of
// them (docs/witnesses.md): pinned by the user as the ledger key is. With a
// minimum above 0, a checkpoint cosigned by fewer is shown as not witnessed.
export interface WitnessPolicy {
  keys: WitnessKey[];
  min: number;
}

export function witnessPolicyText(): { keys: string; min: number } {
  const min = Number(localStorage.getItem(MIN_WITNESSES) ?? "0");
  return { keys: localStorage.getItem(WITNESSES) ?? "", min: Number.isInteger(min) && min >= 0 ? min : 0 };
}

// Null when no cosignature is required. A stored policy that no longer
// parses requires what cannot be met (fail closed), never nothing.
export async function witnessPolicy(): Promise<WitnessPolicy | null> {
  const raw = localStorage.getItem(MIN_WITNESSES);
  if (raw === null || raw === "0") return null;
  const min = Number(raw);
  const lines = (localStorage.getItem(WITNESSES) ?? "").split("\n").filter((l) => l.trim() !== "");
  try {
    const keys = await Promise.all(lines.map(importWitnessKey));
    return { keys, min: Number.isInteger(min) && min > 0 ? min : Number.MAX_SAFE_INTEGER };
  } catch {
    return { keys: [], min: Number.MAX_SAFE_INTEGER };
  }
}

// Pins witness keys (one verifier key a line) and the minimum count;
// refuses keys that do not parse, and a minimum above the number of keys.
export async function setWitnessPolicy(keysText: string, min: number): Promise<void> {
  const lines = keysText.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length > 32) throw new Error("at most 32 witness keys");
  const keys = await Promise.all(lines.map(importWitnessKey));
  if (!Number.isInteger(min) || min < 0 || min > keys.length) {
    throw new Error(`the minimum must be 0..${keys.length} (the number of witness keys)`);
  }
  if (new Set(keys.map((k) => k.name)).size !== keys.length) throw new Error("one key per witness");
  localStorage.setItem(WITNESSES, lines.join("\n"));
  localStorage.setItem(MIN_WITNESSES, String(min));
}
