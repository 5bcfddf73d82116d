import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../src/store/redis.js';

const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every redis-server this process started and has not stopped: killed on exit as a safety net. */
const running = new Set<ChildProcess>();
const scratch = new Set<string>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Whether `redis-server` is on PATH. */
export function requireRedisServerBinary(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A port nothing listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis on `port` answers PING within `timeoutMs`. */
function answersPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** Spawns redis-server with `args` and waits (≤ 5 s) until it answers on `port`. */
async function spawnRedis(port: number, args: string[], cwd = tmpdir()): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, ...args, '--save', '', '--appendonly', 'no'], { cwd, stdio: 'ignore' });
  running.add(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  child.once('error', () => {
    exited = true;
    running.delete(child);
  });
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && !exited) {
    if (await answersPing(port)) return child;
    await sleep(50);
  }
  await kill(child);
  throw new Error(`redis-server on ${HOST}:${port} ${exited ? 'exited' : 'did not answer within 5 s'}`);
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

let shared: Promise<string> | undefined;

/** A Redis for this test file: the one on 127.0.0.1:6379 if it answers, otherwise a fresh redis-server. */
export function sharedRedisUrl(): Promise<string> {
  shared ??= (async () => {
    const standard = `redis://${HOST}:6379/0`;
    if (await answersPing(6379)) {
      try {
        const probe = await connectRedis(standard);
        await probe.ping();
        await probe.close();
        return standard;
      } catch {
        // not usable (auth, protected mode, …): start our own below
      }
    }
    if (!requireRedisServerBinary()) {
      throw new Error('no Redis answers on 127.0.0.1:6379 and redis-server is not on PATH: install it (apt-get install redis-server)');
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
