import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { type JWK, exportJWK, generateKeyPair } from 'jose';
import { InterlockError } from '../../../errors.ts';
import type { Keys } from '../../../runs/keys.ts';
import type { RedisClient } from '../../../runs/redis.ts';
import { registerSecret } from '../../../secrets.ts';

export const SIGNING_ALG = 'ES256';

/** A key for one purpose, derived from the configured secret (HKDF-SHA256), so one variable does for all. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'interlock-oauth', purpose, 32));
}

/**
 * The authorization server's private signing key. From the environment when the config names
 * a variable (a private JWK as JSON; rotation is then the operator's), otherwise generated
 * once and kept in Redis encrypted with AES-256-GCM under a key derived from the server
 * secret: every process that shares the Redis and the secret signs with the same key, and
 * the Redis alone does not reveal it.
 */
export async function loadSigningKey(args: { redis: RedisClient; keys: Keys; secret: string; fromEnv?: string }): Promise<JWK> {
  if (args.fromEnv !== undefined) return parseJwk(args.fromEnv);
  const where = args.keys.authServer('signing-key', SIGNING_ALG);
  const aead = deriveKey(args.secret, 'signing-key-encryption');
  const existing = await args.redis.get(where);
  if (existing) return decrypt(existing, aead);
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: SIGNING_ALG, use: 'sig', kid: randomBytes(8).toString('base64url') };
  // Two processes starting at once: the first write wins and both use it.
  await args.redis.set(where, encrypt(jwk, aead), 'NX');
  const stored = await args.redis.get(where);
  if (!stored) throw new InterlockError('INTERNAL', 'The OAuth signing key could not be stored in Redis');
  return decrypt(stored, aead);
}

function parseJwk(text: string): JWK {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new InterlockError('CONFIG_INVALID', 'The OAuth signing key from the environment is not JSON: give a private JWK');
  }
  if (typeof jwk !== 'object' || jwk === null || !jwk.kty || !jwk.d)
    throw new InterlockError('CONFIG_INVALID', 'The OAuth signing key from the environment must be a private JWK (with "d")');
  registerSecret(jwk.d);
  return jwk;
}

/** AES-256-GCM, `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function seal(text: string, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
  return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

/** The text `seal` sealed; throws when the key is not the one it was sealed with or the text was changed. */
export function unseal(stored: string, key: Buffer): string {
  const [v, iv, tag, body] = stored.split('.');
  if (v !== 'v1' || !iv || !tag || !body) throw new Error('not a sealed value');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
}

function encrypt(jwk: JWK, key: Buffer): string {
  return seal(JSON.stringify(jwk), key);
}

function decrypt(stored: string, key: Buffer): JWK {
  try {
    const jwk = JSON.parse(unseal(stored, key)) as JWK;
    registerSecret(jwk.d);
    return jwk;
  } catch {
    throw new InterlockError(
      'CONFIG_INVALID',
      'The OAuth signing key in Redis does not decrypt with this server secret: every process must share the same secret (or delete the key to make a new one, which ends every issued token)',
    );
  }
}

/** The public half, for verifying the server's own tokens without a round trip. */
export function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
