/**
 * `auth: {type: oauth, …}` of a connector: the settings of Interlock as an OAuth client of an MCP
 * server. What the server and its authorization server publish is discovered at connect time;
 * the file holds only what discovery cannot tell (a pre-registered client, a grant, extra scopes).
 */
import { isScalar } from 'yaml';
import { SOLE_ENV_REF } from '../connectors/env-refs.ts';
import type { OAuthConnectorAuth } from '../connectors/config.ts';
import { type Field, type Source, readList, readString } from './source.ts';

export const OAUTH_KEYS = ['grant', 'client_id', 'client_secret', 'client_metadata_url', 'scopes'] as const;
const GRANTS = ['authorization_code', 'client_credentials'] as const;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** `m` is the auth map, already read with its `type` key; `transport` decides whether OAuth applies. */
export function readOAuthAuth(
  src: Source,
  m: Record<string, Field>,
  what: string,
  transport: string | undefined,
): OAuthConnectorAuth | undefined {
  let ok = true;
  const bad = (at: Field, message: string, key = true) => {
    src.add(key ? at.keyPos : at.pos, at.path, `${what}: ${message}`);
    ok = false;
  };
  if (transport === 'stdio')
    bad(
      m.type,
      'oauth auth applies to streamable-http and sse connectors; a stdio server gets its credentials through env',
      false,
    );
  if (m.token) bad(m.token, 'oauth auth takes no token: Interlock obtains its tokens by logging in (interlock connectors login)');
  const grant = m.grant ? readString(src, m.grant, `${what} auth grant`) : 'authorization_code';
  if (grant !== undefined && !(GRANTS as readonly string[]).includes(grant))
    bad(m.grant as Field, `unknown oauth grant "${grant}"; use authorization_code or client_credentials`, false);
  const clientId = m.client_id ? readString(src, m.client_id, `${what} auth client_id`) : undefined;
  const clientSecretEnv = m.client_secret ? readSecretName(src, m.client_secret, `${what} auth client_secret`) : undefined;
  if (m.client_secret && clientSecretEnv === undefined) ok = false;
  if (m.client_secret && !m.client_id) bad(m.client_secret, 'client_secret needs the client_id it belongs to');
  if (grant === 'client_credentials' && (!m.client_id || !m.client_secret))
    bad(m.grant as Field, 'the client_credentials grant needs a pre-registered client: set client_id and client_secret');
  const clientMetadataUrl = m.client_metadata_url
    ? readString(src, m.client_metadata_url, `${what} auth client_metadata_url`)
    : undefined;
  if (clientMetadataUrl !== undefined && !isCimdUrl(clientMetadataUrl))
    bad(
      m.client_metadata_url as Field,
      'client_metadata_url must be an https URL with a path (the client ID metadata document)',
      false,
    );
  const scopes = m.scopes ? readScopes(src, m.scopes, `${what} auth scopes`) : [];
  if (!ok || grant === undefined || scopes === undefined || (m.client_id && clientId === undefined)) return undefined;
  return {
    type: 'oauth',
    grant: grant as OAuthConnectorAuth['grant'],
    ...(clientId !== undefined ? { clientId } : {}),
    ...(clientSecretEnv !== undefined ? { clientSecretEnv } : {}),
    ...(clientMetadataUrl !== undefined ? { clientMetadataUrl } : {}),
    scopes,
  };
}

function isCimdUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && u.pathname !== '/';
  } catch {
    return false;
  }
}

/** A list of scope tokens, or one space-separated string as OAuth writes them. */
function readScopes(src: Source, f: Field, what: string): string[] | undefined {
  const node = src.deref(f.node);
  const items = isScalar(node)
    ? (readString(src, f, what) ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((s) => ({ s, at: f }))
    : (readList(src, f, what) ?? []).map((item) => ({ s: readString(src, item, `each item of ${what}`), at: item }));
  const out: string[] = [];
  for (const { s, at } of items) {
    if (s === undefined) return undefined;
    if (!SCOPE_TOKEN.test(s)) {
      src.add(at.pos, at.path, `${what}: ${JSON.stringify(s)} is not an OAuth scope (no spaces, quotes or backslashes)`);
      return undefined;
    }
    out.push(s);
  }
  return out;
}

/** A secret must be exactly `${env:NAME}`; returns NAME. The literal is never repeated in a message. */
export function readSecretName(src: Source, f: Field, what: string): string | undefined {
  const node = src.deref(f.node);
  const v = isScalar(node) ? node.value : undefined;
  const m = typeof v === 'string' ? SOLE_ENV_REF.exec(v) : null;
  if (m) return m[1];
  src.add(f.pos, f.path, `${what} must be "\${env:NAME}": secrets only come from the environment, never from the config file`);
  return undefined;
}
