// The console's read-only JSON API (src/console/console_server.h). The
// session cookie rides along; a 401 sends the user back to the login page.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const url = q.toString() ? `${path}?${q}` : path;
  const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "not logged in");
  }
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new ApiError(r.status, body.error ?? r.statusText);
  return body as T;
}

export interface ObjectRef {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

export interface Summary {
  seq: number;
  hash?: string;
  broken: boolean;
  malformed?: boolean;
  type?: string;
  decision?: string;
  reason?: string;
  time?: string;
  phase?: string;
  parent?: string;
  derived?: boolean;
  intent?: string;
  digest?: string;
  message?: string;
  user?: string;
  object?: ObjectRef;
  owner?: ObjectRef;
  artifact?: { jti?: string; sub?: string; iss?: string; kid?: string; digest?: string };
}

export interface Head {
  size: number;
  generation: number;
  broken: number[];
  checkpoint: { seq: number; size: number; note: string } | null;
}
