// Redis bytes per live impersonation token, by key of the layout (src/store/keys.ts): issues N
// exchanges of one actor (HTTP, in-process server on 127.0.0.1, Redis store and durable audit log,
// as bench/bulk-revocation.mjs), then sums MEMORY USAGE of every key under the run's prefix,
// grouped by the key's kind (its hash tag with the id left out), and prints bytes per token.
// MEMORY USAGE counts a key's value and its own overhead, not the keyspace's dictionary entries,
// so the total stays under the `used_memory` difference, which is printed too.
// Usage: npm run build && node bench/key-bytes.mjs [N=1000] [opaque|jwt]
import { Redis } from 'ioredis';
import { BILLING, ORDERS, impersonationBody, issueImpersonations, signInSupport, startRedisReference } from './lib.mjs';

const N = Number(process.argv[2] ?? 1000);
const format = process.argv[3] ?? 'opaque';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const { issuer, prefix, usedMemory, close } = await startRedisReference(url);
const actor = await signInSupport(issuer);
const body = impersonationBody(actor, format === 'jwt' ? ORDERS : BILLING);

const redis = new Redis(url);
const kinds = async () => {
  const out = new Map();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0').type(key);
    const answers = await pipeline.exec();
    keys.forEach((key, i) => {
      const kind = `${key.slice(prefix.length).replace(/^\{([\w-]+)(:[^}]*)?\}/, (_, name, id) => `{${name}${id ? ':…' : ''}}`)} (${answers[2 * i + 1][1]})`;
      const entry = out.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number(answers[2 * i][1] ?? 0);
      out.set(kind, entry);
    });
  } while (cursor !== '0');
  return out;
};

const beforeKinds = await kinds();
const before = usedMemory();
await issueImpersonations(issuer, body, N, 8);
const after = usedMemory();
const afterKinds = await kinds();
const rows = [...afterKinds]
  .map(([kind, { keys, bytes }]) => ({ kind, keys: keys - (beforeKinds.get(kind)?.keys ?? 0), bytes: bytes - (beforeKinds.get(kind)?.bytes ?? 0) }))
  .filter((r) => r.bytes > 0)
  .sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((sum, r) => sum + r.bytes, 0);
console.log(`Redis bytes per live impersonation token (${format}), ${N} tokens of one actor and one subject, MEMORY USAGE by key kind\n`);
console.log('| key (src/store/keys.ts) | type | keys added | bytes per token |\n| --- | --- | ---: | ---: |');
for (const r of rows) {
  const [, kind, type] = /^(.*) \((\w+)\)$/.exec(r.kind);
  console.log(`| \`${kind}\` | ${type} | ${r.keys} | ${Math.round(r.bytes / N)} |`);
}
console.log(`| **sum of MEMORY USAGE** | | | **${Math.round(total / N)}** |\n| used_memory difference | | | ${Math.round((after - before) / N)} |`);

redis.disconnect();
await close();
process.exit(0);
