/**
 * One registry of every secret value this process knows, and one scrubber that removes them from
 * text. Each secret is registered once where it is read (config `${env:…}` values, API tokens,
 * connector bearer tokens, OPENAI_API_KEY, the Stripe and Slack keys, signing secrets, OAuth
 * tokens to come); whatever leaves the process or is stored passes through `scrub`: the store's
 * JSON, errors (InterlockError scrubs its own message), HTTP answers, pages and logs.
 *
 * Values shorter than MIN_SECRET_LENGTH are not registered: replacing "1" or "yes" everywhere
 * would mangle ordinary text, and a secret that short protects nothing anyway.
 */

export const REDACTED = '[redacted]';
export const MIN_SECRET_LENGTH = 8;

/** Environment variables that hold credentials whether or not the config names them. */
export const SECRET_ENV_NAMES = [
  'OPENAI_API_KEY',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'INTERLOCK_OAUTH_CLIENT_SECRET',
] as const;

const secrets = new Set<string>();
/** longest first, so a secret that contains another is hidden whole */
let ordered: string[] = [];

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  secrets.add(value);
  ordered = [...secrets].sort((a, b) => b.length - a.length);
  // The same value as it appears inside JSON text or a URL is the same secret.
  for (const form of [JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
    if (form !== value && !secrets.has(form)) {
      secrets.add(form);
      ordered = [...secrets].sort((a, b) => b.length - a.length);
    }
  }
}

/** `text` with every registered secret replaced by [redacted]. */
export function scrub(text: string): string {
  if (ordered.length === 0 || text.length < MIN_SECRET_LENGTH) return text;
  let out = text;
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Whether any registered secret appears in `text` (for checks, never to print which). */
export function holdsSecret(text: string): boolean {
  return ordered.some((s) => text.includes(s));
}
