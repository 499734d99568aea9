import type { PinStore } from '../runs/pins.ts';
import type { PinnableTool } from '../runs/tool-pins.ts';

/**
 * Compares every tool of a connector with its pin, so a change the pool noticed (refresh,
 * reconnect, `list_changed`) is on record for review before any run reaches the tool. Answers the
 * names of the tools that changed. It lives with the control plane, not in the store: it reads
 * the connector pool and writes pins, and the store knows nothing of pools.
 */
export async function observeCatalog(
  catalog: { listTools(id: string): Promise<PinnableTool[]> },
  pins: Pick<PinStore, 'observe'>,
  connectorId: string,
): Promise<string[]> {
  const changed: string[] = [];
  for (const t of await catalog.listTools(connectorId)) {
    if ((await pins.observe(t)).status === 'changed') changed.push(t.name);
  }
  return changed;
}
