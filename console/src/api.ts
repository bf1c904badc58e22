// The console's JSON API (src/console/console_server.h). The session
// cookie rides along; a 401 sends the user back to the login page.

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
  return answer<T>(await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

// A 401 goes back to the login page; any other error is thrown with the
// server's message.
async function answer<T>(r: Response): Promise<T> {
  if (r.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "not logged in");
  }
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new ApiError(r.status, body.error ?? r.statusText);
  return body as T;
}

// A write (in cluster, with --allow-writes): a JSON body, which is what
// the server requires of a write — a cross-site form cannot send one, so
// together with the SameSite=Strict cookie this is the CSRF defence.
export async function post<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer<T>(r);
}

export interface WhoAmI {
  user: string;
  groups: string[];
  mode: "token" | "kubernetes";
  writes: boolean;
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
  // approval records (the webhook's judgement of an ExecutionApproval):
  // decision is the webhook's, verdict the approver's; reason is the
  // approver's own words.
  verdict?: string;
  approver?: string;
  approval?: ObjectRef;
  // grant and denial records (the authority's)
  jti?: string;
  kid?: string;
  authority?: string;
  rule?: string | { policy?: string; name?: string };
  approvals?: { approver?: string; name?: string; uid?: string }[];
  approverReason?: string;
  initiator?: string;
}

export interface Head {
  size: number;
  generation: number;
  broken: number[];
  checkpoint: { seq: number; size: number; note: string } | null;
}
