import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../src/store/redis.js';
import { HOST, freePort, killRedis as kill, requireRedisServerBinary, scratch, spawnRedis } from './redis-process.js';

export { requireRedisServerBinary };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let shared: Promise<string> | undefined;

/**
 * The Redis the tests share: `TEST_REDIS_URL` — set by the jest global setup to a redis-server it
 * started for this run, or by you to a Redis of your choosing (a dedicated database) — never
 * `REDIS_URL` and never, by default, the Redis on 127.0.0.1:6379. Outside jest (no global setup), a
 * redis-server of this process's own.
 */
export function sharedRedisUrl(): Promise<string> {
  shared ??= (async () => {
    const given = process.env.TEST_REDIS_URL;
    if (given) {
      const probe = await connectRedis(given).catch((err: unknown) => {
        throw new Error(`TEST_REDIS_URL=${given} does not answer: ${err instanceof Error ? err.message : String(err)}`);
      });
      await probe.close();
      return given;
    }
    if (!requireRedisServerBinary()) {
      throw new Error('the tests start a redis-server of their own and it is not on PATH: install it (apt-get install redis-server), or set TEST_REDIS_URL');
    }
    const server = await startRedisServer();
    return server.url;
  })();
  return shared;
}

/** A redis-server of its own (free port unless given) that a test may stop and start again on the same port. */
export async function startRedisServer(port?: number): Promise<{ url: string; port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const p = port ?? (await freePort());
  let child: ChildProcess | undefined = await spawnRedis(p, []);
  return {
    url: `redis://${HOST}:${p}/0`,
    port: p,
    async stop() {
      if (child) await kill(child);
      child = undefined;
    },
    async start() {
      if (child) return;
      child = await spawnRedis(p, []);
    },
  };
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10_000, HOST, () => server.close(() => resolve(true)));
    });
    if (bus) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A 3-master Redis Cluster on free 127.0.0.1 ports, ready (`cluster_state:ok` on every node). */
export async function startRedisCluster(): Promise<{ nodes: string[]; stop(): Promise<void> }> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port).add(port + 10_000);
    ports.push(port);
  }
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    for (const dir of dirs) {
      rmSync(dir, { recursive: true, force: true });
      scratch.delete(dir);
    }
  };
  try {
    for (const port of ports) {
      const dir = mkdtempSync(join(tmpdir(), `redis-cluster-${port}-`));
      dirs.push(dir);
      scratch.add(dir);
      children.push(
        await spawnRedis(port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir], dir),
      );
    }
    const nodes = ports.map((port) => `${HOST}:${port}`);
    await redisCli(['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], 20_000);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(ports.map((port) => redisCli(['-h', HOST, '-p', String(port), 'cluster', 'info'], 2_000).catch(() => '')));
      if (infos.every((info) => info.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`Redis Cluster on ${nodes.join(', ')} not ok within 20 s`);
      await sleep(100);
    }
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Deletes every key under `prefix` on the Redis at `url` (tests clean up after themselves). */
export function deleteKeysWithPrefix(url: string, prefix: string): void {
  const keys = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) spawnSync('redis-cli', ['-u', url, 'UNLINK', ...keys.slice(i, i + 500)], { stdio: 'ignore' });
}
