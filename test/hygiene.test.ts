import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { RUN_MARKER } from './global-setup.js';
import { processesMarked } from './global-teardown.js';
import { sharedRedisUrl } from './helpers/redis.js';

describe('the tests keep to themselves', () => {
  it('share the Redis named by TEST_REDIS_URL, never REDIS_URL', async () => {
    expect(process.env.TEST_REDIS_URL).toBeDefined();
    expect(process.env.REDIS_URL).toBeUndefined();
    expect(process.env.REDIS_CLUSTER_NODES).toBeUndefined();
    expect(await sharedRedisUrl()).toBe(process.env.TEST_REDIS_URL);
  });

  it('find a process the run started and left running, by the run marker in its environment', async () => {
    const value = `probe-${process.pid}-${Date.now()}`;
    const child = spawn('sleep', ['30'], { env: { ...process.env, [RUN_MARKER]: value }, stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(processesMarked(RUN_MARKER, value)).toEqual([{ pid: child.pid, command: 'sleep 30' }]);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(processesMarked(RUN_MARKER, value)).toEqual([]);
  });
});
