import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { JWK } from 'jose';
import Provider, { type Configuration, errors } from 'oidc-provider';
import { InterlockError } from '../../../errors.ts';
import { registerSecret } from '../../../secrets.ts';
import { SCOPES } from '../../auth.ts';
import type { BuiltinFactory } from '../setup.ts';
import { JwtVerifier } from '../verifier.ts';
import { redisAdapter } from './adapter.ts';
import { interactionRoutes } from './interactions.ts';
import { SIGNING_ALG, deriveKey, loadSigningKey, publicJwk } from './keys.ts';
import { errorPage } from './pages.ts';
import { DEFAULT_SIGN_IN_LIMIT, SignInThrottle } from './throttle.ts';
import { Users } from './users.ts';

/** Where the authorization server lives under Interlock's URL; its issuer is <public URL>/oauth. */
export const AS_PATH = '/oauth';

const CODE_TTL_S = 60;
const INTERACTION_TTL_S = 10 * 60;
const SESSION_TTL_S = 24 * 3600;
const GRANT_TTL_S = 30 * 24 * 3600;
const REFRESH_TTL_S = 30 * 24 * 3600;

/**
 * The built-in authorization server: oidc-provider (a certified OpenID provider) mounted at
 * /oauth, with open dynamic client registration (what ChatGPT and the MCP SDK use), PKCE
 * required for every client, resource indicators (RFC 8707) so every access token is a JWT
 * whose `aud` is Interlock's /mcp, sign-in and consent pages served by Interlock, and its
 * state in Redis so several `interlock serve` processes are one server.
 */
export const createBuiltinServer: BuiltinFactory = async ({ app, config, publicUrl, audience, env }) => {
  const b = config.builtin;
  if (!b) throw new InterlockError('INTERNAL', 'createBuiltinServer needs server.auth.oauth.builtin');
  const secret = env[b.secretEnv];
  if (!secret || secret.length < 32)
    throw new InterlockError(
      'CONFIG_INVALID',
      `server.auth.oauth.builtin.secret: set ${b.secretEnv} to at least 32 random characters (it encrypts the signing key and signs cookies)`,
    );
  registerSecret(secret);
  const signingKeyText = b.signingKeyEnv ? env[b.signingKeyEnv] : undefined;
  if (b.signingKeyEnv && !signingKeyText)
    throw new InterlockError('CONFIG_INVALID', `server.auth.oauth.builtin.signing_key: ${b.signingKeyEnv} is not set`);
  const keys = app.store.keys;
  const signingKey = await loadSigningKey({
    redis: app.redis.client,
    keys,
    secret,
    ...(signingKeyText !== undefined ? { fromEnv: signingKeyText } : {}),
  });
  const { users, missing } = await Users.load(b.users, env);
  for (const name of missing) app.logger.warn({ user: name }, 'OAuth user has no password in the environment and cannot sign in');

  const base = publicUrl.replace(/\/+$/, '');
  const issuer = `${base}${AS_PATH}`;
  const mountPath = `${new URL(base).pathname.replace(/\/+$/, '')}${AS_PATH}`;
  const tokenScope = (s: (typeof SCOPES)[number]) => config.scopeMap[s][0] ?? s;
  const resourceScopes = SCOPES.map(tokenScope);

  const configuration = providerConfiguration({
    adapter: redisAdapter(app.redis.client, keys, {
      names: deriveKey(secret, 'record-names'),
      records: deriveKey(secret, 'record-encryption'),
    }),
    signingKey,
    cookieKey: deriveKey(secret, 'cookies').toString('base64url'),
    resourceScopes,
    audience,
    accessTokenTtlS: b.accessTokenTtlS,
    users,
    mountPath,
  });
  const provider = new Provider(issuer, configuration);
  // Behind an HTTPS proxy (an https public URL while Interlock itself speaks HTTP) the scheme and
  // host come from X-Forwarded-*; otherwise they are not trusted.
  provider.proxy = new URL(base).protocol === 'https:';
  provider.on('server_error', (_ctx, err) => app.logger.error({ err: err.message }, 'authorization server error'));
  const callback = provider.callback();
  const mount = async (incoming: IncomingMessage, outgoing: ServerResponse, path: string) => {
    const original = incoming.url ?? '/';
    (incoming as IncomingMessage & { originalUrl?: string }).originalUrl = original;
    incoming.url = path;
    await callback(incoming, outgoing);
    return RESPONSE_ALREADY_SENT;
  };

  const routes = new Hono<{ Bindings: HttpBindings }>();
  const throttle = new SignInThrottle(
    app.redis.client,
    keys,
    deriveKey(secret, 'sign-in-throttle'),
    b.signInLimit ?? DEFAULT_SIGN_IN_LIMIT,
  );
  routes.route(
    mountPath,
    interactionRoutes({
      provider,
      users,
      secret,
      tokenScope,
      mountPath,
      publicOrigin: new URL(base).origin,
      throttle,
      behindProxy: provider.proxy,
    }),
  );
  // RFC 8414 clients look for the metadata at the host's root with the issuer path appended.
  for (const wellKnown of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    routes.get(`${wellKnown}${mountPath}`, (c) => {
      c.env.incoming.url = `${mountPath}/.well-known/openid-configuration`;
      return mount(c.env.incoming, c.env.outgoing, '/.well-known/openid-configuration');
    });
  }
  routes.all(`${mountPath}/*`, (c) => {
    const original = c.env.incoming.url ?? '/';
    return mount(c.env.incoming, c.env.outgoing, original.slice(mountPath.length) || '/');
  });

  const verifier = new JwtVerifier({
    issuer,
    audience,
    scopeMap: config.scopeMap,
    jwks: { keys: [publicJwk(signingKey)] },
  });
  return { issuer, verifier, routes: [routes as unknown as Hono], close: async () => {} };
};

/** oidc-provider's settings: what the built-in server allows and how long things live. */
function providerConfiguration(a: {
  adapter: Configuration['adapter'];
  signingKey: JWK;
  cookieKey: string;
  resourceScopes: string[];
  audience: string;
  accessTokenTtlS: number;
  users: Users;
  mountPath: string;
}): Configuration {
  return {
    adapter: a.adapter,
    jwks: { keys: [a.signingKey as never] },
    cookies: { keys: [a.cookieKey] },
    scopes: ['openid', 'offline_access', ...a.resourceScopes],
    claims: { openid: ['sub'] },
    // Only an EC key is kept, so ID tokens (for clients that ask for openid) are signed with it too.
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: SIGNING_ALG,
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // /mcp takes bearer tokens only (it checks no DPoP proof), so a key-bound token would be refused there.
      dPoP: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => a.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== a.audience) throw new errors.InvalidTarget(`this server issues tokens for ${a.audience} only`);
          return {
            scope: a.resourceScopes.join(' '),
            audience: a.audience,
            accessTokenTTL: a.accessTokenTtlS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: SIGNING_ALG } },
          };
        },
      },
    },
    findAccount: (_ctx, id) => (a.users.get(id) ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    interactions: { url: (_ctx, interaction) => `${a.mountPath}/interaction/${interaction.uid}` },
    // A client that may refresh gets a refresh token without asking for offline_access: MCP
    // clients rarely ask, and a connector that must sign in again every hour is not usable.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: a.accessTokenTtlS,
      AuthorizationCode: CODE_TTL_S,
      Interaction: INTERACTION_TTL_S,
      Session: SESSION_TTL_S,
      Grant: GRANT_TTL_S,
      RefreshToken: REFRESH_TTL_S,
      IdToken: 3600,
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(
        'Sign-in failed',
        typeof out.error_description === 'string' ? out.error_description : String(out.error),
      );
    },
  };
}
