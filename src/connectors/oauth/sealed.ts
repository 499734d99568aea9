import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InterlockError } from '../../errors.ts';

/** The environment variable holding the key that seals OAuth tokens and client registrations in Redis. */
export const SECRET_KEY_ENV = 'INTERLOCK_SECRET_KEY';

const VERSION = 'v1';

/**
 * The 32-byte key from INTERLOCK_SECRET_KEY, written as 64 hex digits or as base64 (what
 * `openssl rand -base64 32` prints). A missing or short key is a clear error at the first use
 * of OAuth, never a weaker key: whoever reads Redis must not be able to read the tokens.
 */
export function secretKeyFrom(env: NodeJS.ProcessEnv): Buffer {
  const raw = env[SECRET_KEY_ENV]?.trim();
  if (!raw) {
    throw new InterlockError(
      'CONFIG_INVALID',
      `${SECRET_KEY_ENV} is not set: connectors with auth type oauth keep their tokens in Redis encrypted with it. ` +
        `Set it to 32 random bytes (openssl rand -base64 32), the same in every Interlock process.`,
      { variable: SECRET_KEY_ENV },
    );
  }
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) {
    throw new InterlockError(
      'CONFIG_INVALID',
      `${SECRET_KEY_ENV} must hold 32 bytes, as 64 hex digits or base64 (openssl rand -base64 32); it holds ${key.length}`,
      { variable: SECRET_KEY_ENV },
    );
  }
  return key;
}

/**
 * AES-256-GCM over JSON. The additional data names where a value is kept (connector and field),
 * so a sealed value copied to another connector's key, or from tokens to client, fails to open.
 */
export class Sealer {
  private readonly key: Buffer;
  constructor(key: Buffer) {
    this.key = key;
  }

  seal(value: unknown, place: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(place));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** The value, or undefined when it was sealed under another key or place (a rotated key reads as "logged out"). */
  open<T>(sealed: string | undefined | null, place: string): T | undefined {
    if (!sealed?.startsWith(`${VERSION}.`)) return undefined;
    const buf = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
    if (buf.length < 28) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
      decipher.setAAD(Buffer.from(place));
      decipher.setAuthTag(buf.subarray(12, 28));
      const text = Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }
}
