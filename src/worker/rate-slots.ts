/**
 * One call's claim on its rate-limit windows in Redis: asked for until granted (the caller decides
 * how to wait), released once the call has answered. Steps (call.ts) and loop items
 * (flow/item-call.ts) claim through this, so both count in the same windows the same way.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RunStore } from '../runs/store.ts';
import type { RateSlot } from './rate-limits.ts';

export interface RateClaim {
  /** 0 or less: the slots are taken; otherwise how many ms to wait before asking again */
  take(): Promise<number>;
  release(): void;
}

export function rateClaim(
  store: Pick<RunStore, 'takeRateSlots' | 'releaseRateSlots'>,
  logger: Logger,
  connector: string,
  limits: RateSlot[],
  holdMs: number,
): RateClaim {
  const windows = limits.map((l) => ({ key: l.key, max: l.max, perMs: l.durationMs }));
  const member = `${process.pid}-${randomUUID()}`;
  return {
    take: () => store.takeRateSlots(connector, windows, member, holdMs),
    release: () => {
      store
        .releaseRateSlots(connector, windows, member)
        .catch((err: unknown) =>
          logger.warn(
            { connector, err: (err as Error).message },
            'could not release rate-limit slots; they free up when the call would have timed out',
          ),
        );
    },
  };
}
