import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';

/** examples/own-provider: the README's "Add it to your own provider", as a program (compiled by the global setup). */
const EXAMPLE = 'examples/own-provider/server.ts';

describe('the own-provider example (README, Add it to your own provider)', () => {
  it('is pasted into the README whole, so the code there runs as it stands', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = new RegExp(`<!-- example: ${EXAMPLE} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme)?.[1];
    expect(block).toBe(readFileSync(EXAMPLE, 'utf8'));
  });

  it('signs the agent in, exchanges for alice, introspects as the API and exits 0, on Redis, with no notice from oidc-provider', async () => {
    const url = await sharedRedisUrl();
    const prefix = `example-${randomUUID()}:`;
    try {
      const run = spawnSync(process.execPath, ['examples/own-provider/build/main.js'], {
        env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: url, REDIS_PREFIX: prefix },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect({ status: run.status, stderr: run.stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '') }).toEqual({ status: 0, stderr: '' });
      const { exchange, introspection } = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as Record<string, Record<string, unknown>>;
      expect(exchange).toEqual({ issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'bearer', scope: 'orders:read', expires_in: 3600 });
      expect(introspection).toEqual({
        active: true,
        sub: 'alice',
        act: { sub: 'agent-7', sub_profile: 'user' },
        scope: 'orders:read',
        client_id: 'support-tool',
        impersonation: { id: expect.any(String), reason: 'Ticket 4711: alice cannot see her orders', started_at: expect.any(Number) },
      });
      const keys = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      expect(keys).toEqual(expect.arrayContaining([expect.stringMatching(/^example-[\w-]+:\{imp:/)]));
    } finally {
      deleteKeysWithPrefix(url, prefix);
    }
  });
});
