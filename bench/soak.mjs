// `npm run soak` (not in CI): the reference server (dist/server/main.js, as `npm start` runs it, logs
// at info; no demo app or orders API beside it) on a redis-server of its own, under a mixed load at a
// bounded rate for SOAK_SECONDS (default 600). Every 10 s it samples the server's RSS, its live heap
// after a forced GC (bench/soak-server.mjs) and Redis' used_memory, then reports their slopes (least
// squares after the first minute), latency, answers by kind and status, and any 5xx.
// Env: SOAK_SECONDS (default 600), SOAK_RATE (requests per second, default 40). Targets only 127.0.0.1.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { clearInterval, setInterval } from 'node:timers';
import { redeemCode, startAuthorization } from '../dist/server/console-client.js';
import { signInThroughLoginPage } from '../dist/server/demo-login.js';
import { BILLING, CONSOLE_AUTH, FORM, ORDERS, basic, impersonationBody, signInSupport } from './lib.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 40);
const SAMPLE_MS = Math.min(10_000, Math.max(1_000, (SECONDS * 1000) / 30));
const MAX_IN_FLIGHT = 32;
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ORDERS_AUTH = basic('orders-api', 'orders-api-secret');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up`);
    await sleep(100);
  }
}

const redisCli = (port, ...args) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const rssMb = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const redisMb = (port) => Number(/used_memory:(\d+)/.exec(redisCli(port, 'INFO', 'memory'))[1]) / 1024 / 1024;

/** Least-squares slope of (minutes, value) points. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

/** The admin's access token with the admin API scope, through the real login page. */
async function signInAdmin(issuer) {
  const client = { issuer, clientId: 'support-console', clientSecret: 'support-console-secret', redirectUri: `${issuer}/admin/callback` };
  const start = startAuthorization(client, 'openid impersonation:admin');
  const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'admin', password: 'demo-password' });
  return (await redeemCode(client, callback.searchParams.get('code'), start.verifier)).access_token;
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function main() {
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const configDir = mkdtempSync(join(tmpdir(), 'soak-config-'));
  let server;
  let stopping = false;
  try {
    await waitFor(async () => redisCli(redisPort, 'PING').startsWith('PONG'), 'redis-server');

    // The shipped configuration with the per-actor limit raised: the load comes from one actor.
    cpSync('config', configDir, { recursive: true });
    const exchange = JSON.parse(readFileSync(join(configDir, 'impersonation.json'), 'utf8'));
    exchange.policy.rateLimit = { points: 1_000_000, durationSeconds: 60 };
    writeFileSync(join(configDir, 'impersonation.json'), JSON.stringify(exchange));

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, ['--expose-gc', 'bench/soak-server.mjs'], {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        PORT: String(port),
        ISSUER: base,
        REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
        CONFIG_DIR: configDir,
        LOG_LEVEL: 'info',
        DEMO_APP_PORT: 'off',
        ORDERS_API_PORT: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const liveHeapMb = () =>
      new Promise((resolve) => {
        server.once('message', (usage) => resolve({ heap: usage.heapUsed / 1024 / 1024, external: usage.external / 1024 / 1024 }));
        server.send('gc');
      });
    let logBytes = 0;
    server.stdout.on('data', (chunk) => (logBytes += chunk.length));
    server.stderr.on('data', (chunk) => process.stderr.write(chunk));
    server.once('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`the reference server exited (${code ?? signal}) during the soak\n`);
    });
    await waitFor(async () => (await fetch(`${base}/.well-known/openid-configuration`)).ok, 'the reference server');

    let actor = await signInSupport(base);
    const admin = await signInAdmin(base);
    const live = [];
    const post = (path, body, auth) => fetch(`${base}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': FORM }, body });
    const exchangeFor = (resource) => post('/token', `${impersonationBody(actor, resource)}&requested_expires_in=120`, CONSOLE_AUTH);
    const pick = () => live[Math.floor(Math.random() * live.length)];
    const remember = async (response) => {
      const body = await response.json().catch(() => ({}));
      if (response.status === 200 && body.access_token) {
        live.push(body.access_token);
        if (live.length > 200) live.shift();
      }
      return response;
    };
    const scenarios = [
      ['exchange opaque', 25, () => exchangeFor(BILLING).then(remember)],
      ['exchange jwt', 15, () => exchangeFor(ORDERS).then(remember)],
      ['introspect', 20, () => post('/token/introspection', new URLSearchParams({ token: pick() ?? 'none' }), ORDERS_AUTH)],
      ['revoke', 5, () => post('/token/revocation', new URLSearchParams({ token: live.splice(0, 1)[0] ?? 'none' }), CONSOLE_AUTH)],
      ['chain', 5, () => post('/token', new URLSearchParams({ grant_type: GRANT, subject_token: pick() ?? 'none', subject_token_type: ACCESS_TOKEN, resource: ORDERS }), ORDERS_AUTH)],
      ['refused subject', 10, () => post('/token', impersonationBody(actor, ORDERS).replace('subject_token=alice', 'subject_token=root'), CONSOLE_AUTH)],
      ['wrong secret', 5, () => post('/token', impersonationBody(actor, ORDERS), basic('support-console', 'wrong'))],
      ['delegation', 5, () => post('/token', new URLSearchParams({ grant_type: GRANT, subject_token: actor, subject_token_type: ACCESS_TOKEN, scope: 'openid' }), CONSOLE_AUTH)],
      ['admin api', 5, () => fetch(`${base}/admin/api/audit?limit=20`, { headers: { authorization: `Bearer ${admin}` } })],
      ['unknown path', 5, () => fetch(`${base}/${'x'.repeat(2000)}`)],
    ];
    const totalWeight = scenarios.reduce((s, [, w]) => s + w, 0);
    const choose = () => {
      let r = Math.random() * totalWeight;
      for (const scenario of scenarios) if ((r -= scenario[1]) < 0) return scenario;
      return scenarios[0];
    };

    const counts = new Map();
    const latencies = [];
    let inFlight = 0;
    let skipped = 0;
    let serverErrors = 0;
    const samples = [];
    const started = Date.now();
    const sample = async () => {
      const minutes = (Date.now() - started) / 60_000;
      const rss = rssMb(server.pid);
      const { heap, external } = await liveHeapMb();
      samples.push({ minutes, rss, heap, external, redis: redisMb(redisPort), stream: Number(redisCli(redisPort, 'XLEN', 'oidc:{audit}:stream')), keys: Number(redisCli(redisPort, 'DBSIZE')) });
    };
    await sample();
    const sampler = setInterval(() => sample().catch(() => undefined), SAMPLE_MS);
    const resignIn = setInterval(() => signInSupport(base).then((token) => (actor = token)).catch(() => undefined), 60_000);

    process.stdout.write(`soak: ${SECONDS} s at ${RATE} req/s against ${base} (redis-server on ${redisPort})\n`);
    const interval = 1000 / RATE;
    let next = Date.now();
    while (Date.now() - started < SECONDS * 1000) {
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += 1;
        continue;
      }
      const [name, , run] = choose();
      inFlight += 1;
      const t0 = performance.now();
      run()
        .then(async (response) => {
          if (!response.bodyUsed) await response.arrayBuffer().catch(() => undefined);
          latencies.push(performance.now() - t0);
          const key = `${name} ${response.status}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
          if (response.status >= 500) serverErrors += 1;
        })
        .catch(() => counts.set(`${name} failed`, (counts.get(`${name} failed`) ?? 0) + 1))
        .finally(() => (inFlight -= 1));
    }
    while (inFlight > 0) await sleep(50);
    clearInterval(sampler);
    clearInterval(resignIn);
    await sample();

    const settled = samples.filter((s) => s.minutes >= Math.min(1, SECONDS / 600));
    const rssSlope = slope(settled.map((s) => [s.minutes, s.rss]));
    const heapSlope = slope(settled.map((s) => [s.minutes, s.heap]));
    const externalSlope = slope(settled.map((s) => [s.minutes, s.external]));
    const redisSlope = slope(settled.map((s) => [s.minutes, s.redis]));
    const first = samples[0];
    const last = samples.at(-1);
    const sorted = latencies.sort((a, b) => a - b);
    const sent = latencies.length;
    const records = last.stream - first.stream;
    const result = {
      seconds: SECONDS,
      rate: RATE,
      sent,
      skipped,
      serverErrors,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) },
      rssMb: { start: first.rss, end: last.rss, slopePerMinute: rssSlope },
      liveHeapMb: { start: first.heap, end: last.heap, slopePerMinute: heapSlope },
      externalMb: { start: first.external, end: last.external, slopePerMinute: externalSlope },
      redisMb: { start: first.redis, end: last.redis, slopePerMinute: redisSlope },
      auditRecords: records,
      redisBytesPerAuditRecord: records > 0 ? ((last.redis - first.redis) * 1024 * 1024) / records : NaN,
      redisKeys: { start: first.keys, end: last.keys },
      logMb: logBytes / 1024 / 1024,
      answers: Object.fromEntries([...counts].sort()),
      samples,
    };
    writeFileSync('soak-results.json', `${JSON.stringify(result, null, 2)}\n`);
    const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
    process.stdout.write(
      [
        '',
        `| measure | value |`,
        `| --- | ---: |`,
        `| requests answered (skipped at ${MAX_IN_FLIGHT} in flight) | ${sent} (${skipped}) |`,
        `| 5xx answers | ${serverErrors} |`,
        `| latency p50 / p99 / max (ms) | ${f(result.latencyMs.p50)} / ${f(result.latencyMs.p99)} / ${f(result.latencyMs.max)} |`,
        `| server RSS start → end (MB) | ${f(first.rss)} → ${f(last.rss)} |`,
        `| server RSS slope after the first minute (MB/min) | ${f(rssSlope, 2)} |`,
        `| server live heap after GC start → end (MB) | ${f(first.heap)} → ${f(last.heap)} |`,
        `| server live heap slope after the first minute (MB/min) | ${f(heapSlope, 2)} |`,
        `| server external memory (buffers) start → end; slope (MB/min) | ${f(first.external)} → ${f(last.external)}; ${f(externalSlope, 2)} |`,
        `| Redis used_memory start → end (MB) | ${f(first.redis)} → ${f(last.redis)} |`,
        `| Redis used_memory slope after the first minute (MB/min) | ${f(redisSlope, 2)} |`,
        `| audit records written (stream, never trimmed) | ${records} |`,
        `| Redis growth per audit record (bytes) | ${f(result.redisBytesPerAuditRecord, 0)} |`,
        `| Redis keys start → end | ${first.keys} → ${last.keys} |`,
        `| log output (MB) | ${f(result.logMb, 2)} |`,
        '',
        'answers by kind and status:',
        ...[...counts].sort().map(([key, n]) => `  ${key}: ${n}`),
        '',
        'full results: soak-results.json',
        '',
      ].join('\n'),
    );
  } finally {
    stopping = true;
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    redis.kill('SIGTERM');
    await once(redis, 'exit').catch(() => undefined);
    rmSync(configDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
