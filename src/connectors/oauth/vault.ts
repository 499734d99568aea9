/**
 * Where an OAuth connector's credentials live, as the connector side needs it. src/runs implements
 * it over Redis (it owns the key layout); values reach it sealed, so the store never sees a token.
 */
export interface CredentialVault {
  /** every field kept for the connector (sealed values and the plain account summary) */
  read(connector: string): Promise<Record<string, string>>;
  write(connector: string, fields: Record<string, string>): Promise<void>;
  remove(connector: string, fields: string[]): Promise<void>;
  /** a lock across every Interlock process; true when this owner took it */
  lock(connector: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock(connector: string, owner: string): Promise<void>;
  /** a login under way, kept until `ttlMs`; `takeLogin` returns it once and deletes it */
  putLogin(state: string, value: string, ttlMs: number): Promise<void>;
  takeLogin(state: string): Promise<string | undefined>;
}

/** Field names of the connector's hash. */
export const FIELD = {
  client: 'client',
  tokens: 'tokens',
  discovery: 'discovery',
  /** plain JSON AccountSummary: never a token */
  account: 'account',
} as const;
