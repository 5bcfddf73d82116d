import type { Backend } from './backend.js';

/**
 * The records a set index names, read together (one MGET on standalone Redis); index members whose
 * record expired are pruned from the index as they are found.
 */
export async function readIndexed<T>(backend: Backend, index: string, recordKey: (id: string) => string): Promise<T[]> {
  const ids = await backend.members(index);
  const values = await backend.getMany(ids.map(recordKey));
  const stale = ids.filter((_, i) => values[i] === undefined);
  if (stale.length) await backend.removeFromSet(index, stale);
  return values.filter((json): json is string => json !== undefined).map((json) => JSON.parse(json) as T);
}
