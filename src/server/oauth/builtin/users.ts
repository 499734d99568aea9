import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { OAuthUserConfig, Scope } from '../../../workflows/types.ts';
import { registerSecret } from '../../../secrets.ts';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash`, the form `password_hash:` takes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export interface Person {
  name: string;
  scopes: Scope[];
}

/**
 * The people of `builtin.users`. A password from the environment is hashed once at start, so
 * every check is the same scrypt whichever way it was configured; an unknown name is checked
 * against a dummy hash, so a wrong name takes as long as a wrong password.
 */
export class Users {
  private readonly byName = new Map<string, { person: Person; hash: string | undefined }>();
  private readonly dummy: Promise<string>;

  private constructor() {
    this.dummy = hashPassword(randomBytes(16).toString('hex'));
  }

  static async load(users: OAuthUserConfig[], env: NodeJS.ProcessEnv): Promise<{ users: Users; missing: string[] }> {
    const out = new Users();
    const missing: string[] = [];
    for (const u of users) {
      let hash = u.passwordHash;
      if (u.passwordEnv) {
        const pw = env[u.passwordEnv];
        registerSecret(pw);
        if (pw) hash = await hashPassword(pw);
        else missing.push(u.name);
      }
      out.byName.set(u.name, { person: { name: u.name, scopes: [...u.scopes] }, hash });
    }
    return { users: out, missing };
  }

  get(name: string): Person | undefined {
    return this.byName.get(name)?.person;
  }

  /** The person, when the password is theirs. A user whose password variable is unset admits nobody. */
  async check(name: string, password: string): Promise<Person | undefined> {
    const entry = this.byName.get(name);
    const stored = entry?.hash ?? (await this.dummy);
    const ok = await verifyPassword(password, stored);
    return ok && entry?.hash ? entry.person : undefined;
  }
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const want = Buffer.from(hash, 'base64url');
  const got = await derive(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return want.length === got.length && timingSafeEqual(want, got);
}
