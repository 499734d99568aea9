import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { InterlockError } from '../errors.ts';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = stripBrackets(host.toLowerCase());
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

export interface OriginPolicyOptions {
  /** the address the server is bound to */
  bindHost: string;
  /**
   * Host names (without port) the server answers to. Defaults: the loopback names when bound to
   * loopback; unset otherwise, which leaves Host unchecked (tokens then guard every request).
   */
  allowedHosts?: string[];
}

/**
 * Guards against DNS rebinding and cross-site requests. A page on evil.example whose name
 * re-resolves to 127.0.0.1 reaches this server with `Host: evil.example`, so on loopback only
 * loopback names pass. Browsers add `Origin` to cross-origin and to every non-GET request; an
 * Origin must name an allowed host or be this very origin, so a foreign page can never make a
 * browser (and its session cookie) act here.
 */
export function originGuard(opts: OriginPolicyOptions): MiddlewareHandler {
  const allowed = resolveAllowedHosts(opts);
  return async (c, next) => {
    const host = c.req.header('host') ?? '';
    const hostName = hostnameOf(host);
    if (allowed && (hostName === undefined || !allowed.has(hostName))) {
      throw new InterlockError(
        'FORBIDDEN',
        `Host '${host}' is not served here (DNS rebinding protection); use one of: ${[...allowed].join(', ')}`,
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !originAllowed(origin, host, allowed)) {
      throw new InterlockError('FORBIDDEN', `Requests from origin '${origin}' are not allowed`);
    }
    await next();
  };
}

export function resolveAllowedHosts(opts: OriginPolicyOptions): Set<string> | undefined {
  if (opts.allowedHosts?.length) return new Set(opts.allowedHosts.map((h) => stripBrackets(h.toLowerCase())));
  if (isLoopbackHost(opts.bindHost)) return new Set([...LOOPBACK_NAMES, stripBrackets(opts.bindHost.toLowerCase())]);
  return undefined;
}

function originAllowed(origin: string, host: string, allowed: Set<string> | undefined): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (u.host.toLowerCase() === host.toLowerCase()) return true;
  return !!allowed && allowed.has(stripBrackets(u.hostname.toLowerCase()));
}

function hostnameOf(host: string): string | undefined {
  if (!host) return undefined;
  try {
    return stripBrackets(new URL(`http://${host}`).hostname.toLowerCase());
  } catch {
    return undefined;
  }
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
