import type { Backend } from '../../src/store/index.js';
import { MemoryBackend } from '../../src/store/memory.js';

/** Every backend the contract suite runs against, by name. */
export function backendsUnderTest(): Array<[string, () => Promise<Backend>]> {
  return [['memory', async () => new MemoryBackend()]];
}
