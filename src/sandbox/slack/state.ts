/**
 * The Slack sandbox's in-memory workspace. The seed is fixed so that other sandboxes and demos can refer to
 * its ids (the Stripe sandbox's customers point at C0CUST001 / C0CUST002).
 */

export interface SandboxTeam {
  id: string;
  name: string;
  domain: string;
}

export interface SandboxBot {
  user_id: string;
  bot_id: string;
  app_id: string;
  name: string;
}

export interface SandboxChannel {
  id: string;
  name: string;
  is_private: boolean;
  is_archived: boolean;
  created: number;
  creator: string;
  topic: string;
  purpose: string;
  members: string[];
}

export interface SandboxUser {
  id: string;
  name: string;
  real_name: string;
  display_name: string;
  email: string;
  is_bot: boolean;
  deleted: boolean;
  tz: string;
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export interface SandboxMessage {
  type: 'message';
  channel: string;
  ts: string;
  text: string;
  user: string;
  bot_id?: string;
  app_id?: string;
  team: string;
  blocks?: unknown[];
  metadata?: MessageMetadata;
  thread_ts?: string;
  subtype?: 'thread_broadcast';
  reply_count?: number;
  reply_users?: string[];
  reply_users_count?: number;
  latest_reply?: string;
  /** reactions.add: each emoji name with who added it, in the order first added */
  reactions?: Array<{ name: string; users: string[]; count: number }>;
  /** chat.update: who edited and when */
  edited?: { user: string; ts: string };
}

/** chat.postEphemeral: shown to one user only, never part of a channel's history. */
export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  message_ts: string;
}

/** Where the sandbox sends interaction payloads (button clicks), signed as Slack signs them. */
export interface Interactivity {
  url: string;
  signingSecret: string;
}

/** One API request as the sandbox answered it; status 0 means the connection was dropped on purpose. */
export interface SandboxRequestRecord {
  method: string;
  status: number;
  ok?: boolean;
  error?: string;
}

export interface SlackState {
  team: SandboxTeam;
  bot: SandboxBot;
  channels: SandboxChannel[];
  users: SandboxUser[];
  /** every message of every channel, top-level and replies, oldest first */
  messages: SandboxMessage[];
  ephemerals: EphemeralMessage[];
  requests: SandboxRequestRecord[];
  pendingRateLimits: Record<string, { count: number; retryAfterSec: number }>;
  pendingFailures: string[];
}

export const SEED_TEAM: SandboxTeam = { id: 'T0INTERLOCK', name: 'Interlock Sandbox', domain: 'interlock-sandbox' };
export const SEED_BOT: SandboxBot = { user_id: 'U0BOT', bot_id: 'B0BOT', app_id: 'A0INTERLOCK', name: 'interlock' };

const SEED_CREATED = 1_700_000_000;

function seedChannels(): SandboxChannel[] {
  const everyone = [SEED_BOT.user_id, 'U0ADA', 'U0GRACE'];
  const channel = (id: string, name: string, purpose: string, members: string[]): SandboxChannel => ({
    id,
    name,
    is_private: false,
    is_archived: false,
    created: SEED_CREATED,
    creator: 'U0ADA',
    topic: '',
    purpose,
    members,
  });
  return [
    channel('C0CUST001', 'cust-ada', 'Shared channel with customer Ada', [SEED_BOT.user_id, 'U0ADA']),
    channel('C0CUST002', 'cust-grace', 'Shared channel with customer Grace', [SEED_BOT.user_id, 'U0GRACE']),
    channel('C0GENERAL', 'general', 'Company-wide announcements', everyone),
    channel('C0BILLING', 'billing', 'Refunds, invoices and payment questions', everyone),
  ];
}

function seedUsers(): SandboxUser[] {
  return [
    {
      id: 'U0ADA',
      name: 'ada',
      real_name: 'Ada Lovelace',
      display_name: 'ada',
      email: 'ada@example.com',
      is_bot: false,
      deleted: false,
      tz: 'Europe/London',
    },
    {
      id: 'U0GRACE',
      name: 'grace',
      real_name: 'Grace Hopper',
      display_name: 'grace',
      email: 'grace@example.com',
      is_bot: false,
      deleted: false,
      tz: 'America/New_York',
    },
    {
      id: SEED_BOT.user_id,
      name: SEED_BOT.name,
      real_name: 'Interlock',
      display_name: 'Interlock',
      email: '',
      is_bot: true,
      deleted: false,
      tz: 'UTC',
    },
  ];
}

/** The first ts the sandbox hands out, in microseconds, so ts values read like Slack's and sort as numbers. */
const FIRST_TS_MICROS = 1_700_000_000_000_100;
const TS_STEP_MICROS = 100;
const MAX_REQUEST_RECORDS = 1000;

export function formatTs(micros: number): string {
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

export function tsToMicros(ts: string): number | undefined {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(ts);
  if (!m) return undefined;
  return Number(m[1]) * 1e6 + Number((m[2] ?? '').padEnd(6, '0'));
}

export class SlackStore {
  team: SandboxTeam = { ...SEED_TEAM };
  bot: SandboxBot = { ...SEED_BOT };
  channels: SandboxChannel[] = [];
  users: SandboxUser[] = [];
  messages: SandboxMessage[] = [];
  ephemerals: EphemeralMessage[] = [];
  requests: SandboxRequestRecord[] = [];
  /** set by the sandbox's options or `/_sandbox/interactivity`; kept across reset() */
  interactivity: Interactivity | undefined;
  rateLimits = new Map<string, { count: number; retryAfterSec: number }>();
  failures = new Set<string>();
  private nextTsMicros = FIRST_TS_MICROS;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.channels = seedChannels();
    this.users = seedUsers();
    this.messages = [];
    this.ephemerals = [];
    this.requests = [];
    this.rateLimits.clear();
    this.failures.clear();
    this.nextTsMicros = FIRST_TS_MICROS;
  }

  nextTs(): string {
    const ts = formatTs(this.nextTsMicros);
    this.nextTsMicros += TS_STEP_MICROS;
    return ts;
  }

  /** Accepts an id (C0…) or a name with or without '#', as chat.postMessage does. */
  findChannel(idOrName: string): SandboxChannel | undefined {
    const name = idOrName.startsWith('#') ? idOrName.slice(1) : idOrName;
    return this.channels.find((c) => c.id === idOrName) ?? this.channels.find((c) => c.name === name);
  }

  record(entry: SandboxRequestRecord): void {
    this.requests.push(entry);
    if (this.requests.length > MAX_REQUEST_RECORDS) this.requests.splice(0, this.requests.length - MAX_REQUEST_RECORDS);
  }

  /** Takes one injected 429 for the method, if any is left. */
  takeRateLimit(method: string): number | undefined {
    const pending = this.rateLimits.get(method);
    if (!pending || pending.count <= 0) return undefined;
    pending.count -= 1;
    if (pending.count === 0) this.rateLimits.delete(method);
    return pending.retryAfterSec;
  }

  takeFailure(method: string): boolean {
    return this.failures.delete(method);
  }

  snapshot(): SlackState {
    return structuredClone({
      team: this.team,
      bot: this.bot,
      channels: this.channels,
      users: this.users,
      messages: this.messages,
      ephemerals: this.ephemerals,
      requests: this.requests,
      pendingRateLimits: Object.fromEntries(this.rateLimits),
      pendingFailures: [...this.failures],
    });
  }
}
