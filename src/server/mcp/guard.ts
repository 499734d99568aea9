import { isIP } from 'node:net';

/**
 * The MCP endpoint's own DNS-rebinding check, so /mcp is safe even where it is mounted without
 * the server's origin middleware. A page on evil.example whose name re-resolves to 127.0.0.1
 * reaches us with `Host: evil.example`; only names we serve pass. Loopback names always pass:
 * an attacker cannot make a browser send them for a foreign page.
 */
export interface HostPolicy {
  /** host names (no port) besides loopback and the public URL's */
  allowedHosts?: string[];
  /** exact origins (`https://chat.example.com`) allowed besides those of allowed hosts */
  allowedOrigins?: string[];
  publicUrl: string;
}

export type GuardVerdict = { ok: true } | { ok: false; message: string };

export function createHostGuard(p: HostPolicy): (host: string | undefined, origin: string | undefined) => GuardVerdict {
  const hosts = new Set<string>((p.allowedHosts ?? []).map(normalize));
  try {
    hosts.add(normalize(new URL(p.publicUrl).hostname));
  } catch {
    // A publicUrl that does not parse adds nothing; loopback still works.
  }
  const origins = new Set((p.allowedOrigins ?? []).map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const hostOk = (name: string) => isLoopbackHost(name) || hosts.has(name);

  return (host, origin) => {
    const name = hostnameOf(host);
    if (name === undefined || !hostOk(name)) {
      return { ok: false, message: `Host '${host ?? ''}' is not served here (DNS rebinding protection)` };
    }
    // Non-browser clients send no Origin; a browser always does on a cross-site POST.
    if (origin === undefined) return { ok: true };
    if (origins.has(origin.toLowerCase())) return { ok: true };
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return { ok: false, message: `Origin '${origin}' is not allowed` };
    }
    if ((u.protocol === 'http:' || u.protocol === 'https:') && hostOk(normalize(u.hostname))) return { ok: true };
    return { ok: false, message: `Requests from origin '${origin}' are not allowed` };
  };
}

/** Names and addresses only this machine can reach (the same rule as src/server/origin.ts). */
function isLoopbackHost(host: string): boolean {
  const h = normalize(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

function normalize(h: string): string {
  const l = h.toLowerCase();
  return l.startsWith('[') && l.endsWith(']') ? l.slice(1, -1) : l;
}

function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  try {
    return normalize(new URL(`http://${host}`).hostname);
  } catch {
    return undefined;
  }
}
