/**
 * Looks a name from a request up in a plain record by own property only: `__proto__`,
 * `constructor` or `toString` as a workflow, connector or tool name must find nothing, never
 * Object.prototype's members.
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
