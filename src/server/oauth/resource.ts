import { Hono } from 'hono';
import type { Scope } from '../../workflows/types.ts';
import { type Authenticator, type Principal, SCOPES } from '../auth.ts';
import type { TokenVerifier } from './verifier.ts';

/** RFC 9728's well-known path; the path-suffixed form names the resource (`…/oauth-protected-resource/mcp`). */
export const PRM_PATH = '/.well-known/oauth-protected-resource';

/** The scopes a chat client needs, asked for in a bare 401 so a client does not request `confirm` by default. */
const CHAT_SCOPES: Scope[] = ['read', 'trigger'];

export interface ChallengeOptions {
  error?: 'invalid_token' | 'insufficient_scope';
  description?: string;
  /** the scopes that would do, space-separated in the header */
  scope?: readonly string[];
}

export interface OAuthResourceOptions {
  /** the URL people reach Interlock at */
  publicUrl: string;
  /** the authorization server's issuer identifier */
  issuer: string;
  verifier: TokenVerifier;
  /** the `aud` tokens must carry; default <public URL>/mcp */
  audience?: string;
  /** for the map back: the token scope a client should ask for to get each Interlock scope */
  scopeMap: Record<Scope, string[]>;
}

/**
 * `/mcp` as an OAuth 2.1 protected resource (MCP authorization, RFC 9728): what its metadata
 * says, what a 401 or 403 tells the client, and whose token a bearer is.
 */
export class OAuthResource {
  readonly resource: string;
  readonly metadataUrl: string;
  readonly issuer: string;
  private readonly verifier: TokenVerifier;
  private readonly scopeMap: Record<Scope, string[]>;

  constructor(opts: OAuthResourceOptions) {
    const base = opts.publicUrl.replace(/\/+$/, '');
    const u = new URL(base);
    this.resource = opts.audience ?? `${base}/mcp`;
    this.metadataUrl = `${u.origin}${PRM_PATH}${u.pathname.replace(/\/+$/, '')}/mcp`;
    this.issuer = opts.issuer;
    this.verifier = opts.verifier;
    this.scopeMap = opts.scopeMap;
  }

  /** The token scope a client asks for to be granted Interlock's `scope` (the map's first entry). */
  tokenScope(scope: Scope): string {
    return this.scopeMap[scope][0] ?? scope;
  }

  metadata(): Record<string, unknown> {
    return {
      resource: this.resource,
      authorization_servers: [this.issuer],
      scopes_supported: SCOPES.map((s) => this.tokenScope(s)),
      bearer_methods_supported: ['header'],
      resource_name: 'Interlock',
    };
  }

  /** A `WWW-Authenticate` value (RFC 6750 §3, with RFC 9728's resource_metadata). */
  challenge(opts: ChallengeOptions = {}): string {
    const parts = [`resource_metadata="${this.metadataUrl}"`];
    if (opts.error) parts.push(`error="${opts.error}"`);
    if (opts.description) parts.push(`error_description="${opts.description.replace(/["\\]/g, '')}"`);
    const scope = opts.scope ?? (opts.error ? undefined : CHAT_SCOPES);
    if (scope?.length) parts.push(`scope="${scope.map((s) => (isScope(s) ? this.tokenScope(s) : s)).join(' ')}"`);
    return `Bearer ${parts.join(', ')}`;
  }

  verify(token: string) {
    return this.verifier.verify(token);
  }
}

function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export type BearerResult = { principal: Principal } | { principal: undefined; reason?: string };

/**
 * Static tokens first (a digest compare, no I/O), then the OAuth verifier. A token that is
 * neither answers with why, for `error_description`; never with the token.
 */
export class BearerAuth {
  readonly tokens: Authenticator;
  readonly oauth: OAuthResource | undefined;

  constructor(tokens: Authenticator, oauth: OAuthResource | undefined) {
    this.tokens = tokens;
    this.oauth = oauth;
  }

  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    return (await this.check(authorization)).principal;
  }

  async check(authorization: string | undefined): Promise<BearerResult> {
    const fromToken = this.tokens.authenticate(authorization);
    if (fromToken) return { principal: fromToken };
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m || !this.oauth) return { principal: undefined };
    const verdict = await this.oauth.verify(m[1]);
    return verdict.ok ? { principal: verdict.principal } : { principal: undefined, reason: verdict.reason };
  }

  /** The challenge for a 401; undefined without OAuth, where the caller keeps its plain one. */
  challenge(opts: ChallengeOptions = {}): string | undefined {
    return this.oauth?.challenge(opts);
  }
}

/**
 * `/.well-known/oauth-protected-resource` and its path-suffixed form. Public and readable from
 * any origin: browser-based MCP clients fetch it before they have a token.
 */
export function resourceMetadataRoutes(resource: OAuthResource): Hono {
  const r = new Hono();
  const answer = () =>
    new Response(JSON.stringify(resource.metadata()), {
      headers: {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'cache-control': 'public, max-age=300',
      },
    });
  const preflight = () => new Response(null, { status: 204, headers: corsPreflight });
  // The root form too: clients that do not read the 401 look there first.
  for (const path of new Set([PRM_PATH, new URL(resource.metadataUrl).pathname])) {
    r.get(path, answer);
    r.options(path, preflight);
  }
  return r;
}

const corsPreflight = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'mcp-protocol-version, content-type',
};

/** What the HTTP app mounts for OAuth (src/server/http.ts). */
export interface HttpOAuth {
  bearer: BearerAuth;
  /** public, before any other check: the protected resource metadata */
  publicRoutes: Hono[];
  /** after the Host/Origin and body-size checks, before sign-in: the built-in authorization server */
  routes: Hono[];
}
