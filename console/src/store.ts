// What this browser keeps for itself (localStorage): the ledger key its user
// pinned and the last checkpoint it saw verified. Neither ever comes from the
// server: the key is pasted by the user, the checkpoint kept only once its
// signature verified under that key.
import { b64decode, b64encode, importPinnedKey, PinnedKey } from "./verify";

const KEY = "execgov.console.pinnedKey";
const SEEN = "execgov.console.lastCheckpoint";

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
