import type { Logger } from 'pino';
import type { ToolInfo } from '../../connectors/types.ts';
import { errorMessage } from '../../errors.ts';
import type { ServerServices } from '../services.ts';

/**
 * Copies what the pool already knows about the connectors' tools. It never connects to a
 * connector just to describe a tool: a catalog not loaded yet stays unknown, and unknown
 * tools count as destructive. Shared by both protocol eras so they list the same tools.
 */
export async function readCatalog(
  pool: ServerServices['catalog']['pool'],
  log: Logger,
): Promise<Map<string, Map<string, ToolInfo>>> {
  const out = new Map<string, Map<string, ToolInfo>>();
  const loaded = pool.status().filter((s) => s.toolCount !== undefined);
  for (const { id } of loaded) {
    try {
      const tools = await pool.listTools(id, { signal: AbortSignal.timeout(1000) });
      out.set(id, new Map(tools.map((t) => [t.name, t])));
    } catch (err) {
      // Its tools are described as unknown (and so as destructive) until the catalog answers again.
      log.debug({ connector: id, err: errorMessage(err) }, 'catalog not readable; tools described as unknown');
    }
  }
  return out;
}
