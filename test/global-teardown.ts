import { readdirSync, readFileSync } from 'node:fs';
import type { TestRun } from './global-setup.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Processes whose initial environment holds `name=value` (Linux: read from /proc; elsewhere none can be seen). */
export function processesMarked(name: string, value: string): Array<{ pid: number; command: string }> {
  if (process.platform !== 'linux') return [];
  const needle = `${name}=${value}`;
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(needle)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ');
      found.push({ pid: Number(entry), command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * Stops the run's redis-server, then checks that no process the run started is still alive
 * (redis-server, reference servers, browsers): survivors are killed and fail the run, by name.
 */
export default async function globalTeardown(): Promise<void> {
  const run = (globalThis as { __tokenExchangeTestRun?: TestRun }).__tokenExchangeTestRun;
  if (!run) return;
  const redis = run.redis;
  if (redis && redis.exitCode === null && redis.signalCode === null) {
    const exited = new Promise((resolve) => redis.once('exit', resolve));
    redis.ref(); // unref'd by the setup: waiting for its exit must keep this process alive
    redis.kill('SIGTERM');
    await exited;
  }
  // A process signalled at the very end of its test may take a moment to go.
  let left = processesMarked(run.markerName, run.marker);
  for (let i = 0; i < 20 && left.length > 0; i += 1) {
    await sleep(100);
    left = processesMarked(run.markerName, run.marker);
  }
  if (left.length === 0) return;
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  throw new Error(`the tests left ${left.length} process(es) running (now killed):\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}`);
}
