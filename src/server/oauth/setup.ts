import type { Hono } from 'hono';
import type { App } from '../../app.ts';
import { InterlockError } from '../../errors.ts';
import { registerSecret } from '../../secrets.ts';
import type { ServerOAuthConfig } from '../../workflows/types.ts';
import type { Authenticator } from '../auth.ts';
import { BearerAuth, type HttpOAuth, OAuthResource, resourceMetadataRoutes } from './resource.ts';
import { IntrospectionVerifier, JwtVerifier, type TokenVerifier } from './verifier.ts';

export interface OAuthSetup extends HttpOAuth {
  resource: OAuthResource;
  close(): Promise<void>;
}

/** Builds the built-in authorization server; given by serve.ts so this module does not load oidc-provider unless asked. */
export type BuiltinFactory = (args: {
  app: App;
  config: ServerOAuthConfig;
  publicUrl: string;
  audience: string;
  env: NodeJS.ProcessEnv;
}) => Promise<{ issuer: string; verifier: TokenVerifier; routes: Hono[]; close(): Promise<void> }>;

/**
 * `server.auth.oauth` made real: the verifier for the configured issuer (JWKS or introspection)
 * or the built-in server, the metadata routes, and the bearer check the API and /mcp share.
 */
export async function setUpOAuth(args: {
  app: App;
  config: ServerOAuthConfig;
  tokens: Authenticator;
  publicUrl: string;
  env: NodeJS.ProcessEnv;
  builtin?: BuiltinFactory;
}): Promise<OAuthSetup> {
  const { config, publicUrl, env } = args;
  const audience = config.audience ?? `${publicUrl.replace(/\/+$/, '')}/mcp`;
  let issuer: string;
  let verifier: TokenVerifier;
  let routes: Hono[] = [];
  let close = async () => {};
  if (config.builtin) {
    if (!args.builtin) throw new InterlockError('INTERNAL', 'The built-in authorization server was not provided');
    const b = await args.builtin({ app: args.app, config, publicUrl, audience, env });
    ({ issuer, verifier, routes } = b);
    close = () => b.close();
  } else {
    issuer = config.issuer as string;
    verifier = externalVerifier(config, issuer, audience, env);
  }
  const resource = new OAuthResource({ publicUrl, issuer, verifier, audience, scopeMap: config.scopeMap });
  return {
    resource,
    bearer: new BearerAuth(args.tokens, resource),
    publicRoutes: [resourceMetadataRoutes(resource)],
    routes,
    close,
  };
}

function externalVerifier(config: ServerOAuthConfig, issuer: string, audience: string, env: NodeJS.ProcessEnv): TokenVerifier {
  if (!config.introspection)
    return new JwtVerifier({
      issuer,
      audience,
      scopeMap: config.scopeMap,
      ...(config.jwksUri ? { jwksUri: config.jwksUri } : {}),
    });
  const clientSecret = env[config.introspection.clientSecretEnv];
  if (!clientSecret)
    throw new InterlockError(
      'CONFIG_INVALID',
      `server.auth.oauth.introspection: the environment variable ${config.introspection.clientSecretEnv} is not set`,
    );
  registerSecret(clientSecret);
  return new IntrospectionVerifier({
    url: config.introspection.url,
    clientId: config.introspection.clientId,
    clientSecret,
    audience,
    issuer,
    scopeMap: config.scopeMap,
    ...(config.introspection.cacheMs !== undefined ? { cacheMs: config.introspection.cacheMs } : {}),
  });
}
