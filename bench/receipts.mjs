// Activity receipts (docs/beyond-impersonation.md "Activity receipts"), measured: the orders API
// (bench/receipts-api.mjs, its own process) verifying impersonation JWTs locally, without and with
// receipts reported to the provider (bench/server.mjs, its own process, memory store), which writes
// one api.request audit record each; autocannon drives from this process. Rounds alternate which
// goes first, so drift on a shared machine falls on both alike. Prints one JSON line: p50/p99
// latency (ms, median over rounds) and requests per second of each, the p99 ratio (target ≤ 1.1),
// and the receipts the toolkit sent, dropped and lost.
// In production the provider is another service: with two or more CPUs (and taskset) the provider is
// pinned to the last CPU and the APIs and autocannon to the others, so that the provider writing the
// receipts' audit records does not take the API's CPU; BENCH_PIN=0 runs everything unpinned.
// Usage: node bench/receipts.mjs   Env: BENCH_SECONDS (default 5 per run), BENCH_CONNECTIONS (8), BENCH_ROUNDS (4), BENCH_PIN (1).
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { CONSOLE_AUTH, FORM, ORDERS, impersonationBody, signInSupport } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CPUS = availableParallelism();
const PIN = process.env.BENCH_PIN !== '0' && CPUS >= 2 && spawnSync('taskset', ['-V']).status === 0;
const PROVIDER_CPUS = String(CPUS - 1);
const OTHER_CPUS = CPUS === 2 ? '0' : `0-${CPUS - 2}`;
if (PIN) spawnSync('taskset', ['-cp', OTHER_CPUS, String(process.pid)], { stdio: 'ignore' });

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a bench process and resolves once it printed its ready line; `lines` gets every later JSON line. */
async function start(script, env, cpus) {
  const port = await freePort();
  const [command, args] = PIN ? ['taskset', ['-c', cpus, process.execPath, script]] : [process.execPath, [script]];
  const child = spawn(command, args, { env: { ...process.env, ...env, PORT: String(port), NODE_OPTIONS: '', REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let buffer = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 30_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop();
      for (const line of parts.filter(Boolean)) {
        if (line.startsWith('{"ready"')) {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('{')) lines.push(JSON.parse(line));
      }
    });
    child.once('exit', () => reject(new Error(`${script} exited`)));
  });
  return { base: `http://127.0.0.1:${port}`, child, lines };
}

async function stop(proc) {
  proc.child.kill('SIGTERM');
  if (proc.child.exitCode === null) await once(proc.child, 'exit');
}

const provider = await start('bench/server.mjs', {}, PROVIDER_CPUS);
const issuer = provider.base;
const apis = {
  without: await start('bench/receipts-api.mjs', { ISSUER: issuer }, OTHER_CPUS),
  with: await start('bench/receipts-api.mjs', { ISSUER: issuer, RECEIPTS: '1', RECEIPTS_ENDPOINT: process.env.RECEIPTS_ENDPOINT ?? '' }, OTHER_CPUS),
};

const actor = await signInSupport(issuer);
const exchanged = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: CONSOLE_AUTH, 'content-type': FORM }, body: impersonationBody(actor, ORDERS) });
const token = (await exchanged.json()).access_token;
/**
 * One autocannon run. Its own latency histogram counts whole milliseconds, too coarse for a 1.1×
 * ratio of p99s near 5 ms: the response times it reports per response (fractions of a millisecond)
 * give the percentiles here.
 */
async function load(base, duration, connections) {
  const times = [];
  const run = autocannon({ url: `${base}/orders`, connections, duration, headers: { authorization: `Bearer ${token}` } });
  run.on('response', (_client, status, _bytes, responseTime) => {
    if (status >= 200 && status < 300) times.push(responseTime);
  });
  const result = await run;
  times.sort((a, b) => a - b);
  const at = (q) => Number(times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2));
  return { ...result, latency: { p50: at(0.5), p99: at(0.99) } };
}

for (const name of ['without', 'with']) await load(apis[name].base, 1, 2);

const samples = { without: [], with: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  const order = round % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
  for (const name of order) {
    const result = await load(apis[name].base, SECONDS, CONNECTIONS);
    if (result.non2xx) throw new Error(`${name}: ${result.non2xx} answers were not 2xx`);
    samples[name].push({ p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average });
  }
}
await Promise.all([stop(apis.without), stop(apis.with)]);
await stop(provider);
const receipts = apis.with.lines.find((l) => 'receipts' in l)?.receipts;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = (list) => ({ p50Ms: median(list.map((s) => s.p50)), p99Ms: median(list.map((s) => s.p99)), requestsPerSecond: Math.round(median(list.map((s) => s.rps))) });
const result = { seconds: SECONDS, connections: CONNECTIONS, rounds: ROUNDS, pinned: PIN, without: summary(samples.without), with: summary(samples.with), receipts };
result.p99Ratio = Number((result.with.p99Ms / result.without.p99Ms).toFixed(3));
console.log(JSON.stringify(result));
