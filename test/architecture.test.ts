import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** scripts/check-architecture.mjs: the shape docs/architecture.md promises, checked over src/. */
const check = (root?: string) =>
  spawnSync(process.execPath, ['scripts/check-architecture.mjs', ...(root ? [root] : [])], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });

const roots: string[] = [];
/** A repository of its own with the given files under src/. */
function repository(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'architecture-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', path)), { recursive: true });
    writeFileSync(join(root, 'src', path), text);
  }
  return root;
}
const problems = (root: string) => {
  const run = check(root);
  return [run.status, run.stderr.split('\n').filter(Boolean).slice(1)];
};

describe('the architecture check', () => {
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('passes on this repository', () => {
    const run = check();
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(/^check-architecture: ok \(\d+ files in src\//);
  });

  it('refuses an import circle, type-only imports included', () => {
    const root = repository({
      'exchange/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'exchange/b.ts': "import type { A } from './a.js';\nexport type B = A | 1;\n",
    });
    expect(problems(root)).toEqual([1, ['import circle: exchange/a.ts ↔ exchange/b.ts']]);
  });

  it('refuses a room that imports a room above it (the audit importing the store)', () => {
    const root = repository({
      'audit/log.ts': "import type { Backend } from '../store/backend.js';\nexport type Log = Backend;\n",
      'store/backend.ts': 'export interface Backend { ping(): void }\n',
    });
    expect(problems(root)).toEqual([1, ['audit/log.ts: imports store/backend.ts, a room above its own ("audit" may not import "store")']]);
  });

  it('refuses the toolkit importing the provider configuration', () => {
    const root = repository({
      'resource-server/options.ts': "import type { ResolvedOptions } from '../config.js';\nexport type O = ResolvedOptions;\n",
      'config.ts': 'export interface ResolvedOptions { a: 1 }\n',
    });
    expect(problems(root)).toEqual([1, ['resource-server/options.ts: imports config.ts, a room above its own ("resource-server" may not import "config")']]);
  });

  it('refuses a file over 400 lines and a function over 150 lines', () => {
    const body = Array.from({ length: 150 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const root = repository({
      'exchange/long.ts': `export function long(): number {\n${body}\n  return 0;\n}\n${'\n'.repeat(260)}`,
    });
    expect(problems(root)).toEqual([1, ['exchange/long.ts: 414 lines (at most 400)', 'exchange/long.ts:1: function long is 153 lines (at most 150)']]);
  });

  it('refuses ioredis outside the store, the environment outside the reference server, and a room on no floor', () => {
    const root = repository({
      'exchange/cache.ts': "import { Redis } from 'ioredis';\nexport const r = Redis;\n",
      'web/port.ts': 'export const port = process.env.PORT;\n',
      'gadgets/x.ts': 'export const x = 1;\n',
    });
    expect(problems(root)).toEqual([
      1,
      [
        'exchange/cache.ts: imports ioredis (only src/store/ may)',
        'gadgets/x.ts: room "gadgets" is on no floor (add it to FLOORS and to docs/architecture.md)',
        'web/port.ts: reads process.env (only src/server/, the reference server, may)',
      ],
    ]);
  });
});
