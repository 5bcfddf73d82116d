import { createWriteStream, readFileSync } from 'node:fs';
import { GENESIS_HASH, verifyChain, type ChainedAuditRecord } from '../audit/chain.js';
import type { AuditLog } from '../audit/log.js';
import { readAll } from '../audit/query.js';
import { openStore } from './store-from-env.js';

const USAGE = `usage:
  npm run -s audit -- export [--since <ISO time>] [--out <file>]   JSON lines, oldest first
  npm run -s audit -- verify [--file <export.jsonl>]               exits 1 at the first broken link
  npm run -s audit -- --help                                       this text

export and verify (without --file) read the audit log in Redis: set REDIS_URL or REDIS_CLUSTER_NODES
(and REDIS_PREFIX, default oidc:) as the server runs with. A server started without Redis (plain
\`npm start\`) keeps its log in its own memory, out of this command's reach: verify it in the support
console (http://localhost:3000/admin/audit, "Verify the chain").`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function openLog(): Promise<{ log: AuditLog; close(): Promise<void> }> {
  if (!process.env.REDIS_URL && !process.env.REDIS_CLUSTER_NODES) {
    throw new Error(
      'no audit log to read: set REDIS_URL or REDIS_CLUSTER_NODES (and REDIS_PREFIX) as the server runs with.\n' +
        'A server started without Redis keeps its log in its own memory: verify it in the support console,\n' +
        'http://localhost:3000/admin/audit ("Verify the chain").',
    );
  }
  const { store, auditLog } = await openStore(process.env);
  if (!auditLog) throw new Error('the store has no audit log');
  return { log: auditLog, close: () => store.close() };
}

async function exportRecords(args: string[]): Promise<number> {
  const since = option(args, '--since');
  const sinceIso = since === undefined ? undefined : new Date(since).toISOString();
  const out = option(args, '--out');
  const sink = out ? createWriteStream(out) : process.stdout;
  const { log, close } = await openLog();
  let count = 0;
  for await (const record of readAll(log)) {
    if (sinceIso !== undefined && record.time < sinceIso) continue;
    sink.write(`${JSON.stringify(record)}\n`);
    count += 1;
  }
  await close();
  if (out) await new Promise<void>((resolve) => (sink as NodeJS.WritableStream).end(() => resolve()));
  process.stderr.write(`exported ${count} records\n`);
  return 0;
}

function* recordsOfFile(path: string): Generator<ChainedAuditRecord> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
  }
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as ChainedAuditRecord;
    } catch {
      throw new Error(`${path}: line ${i + 1} is not an audit record (JSON)`);
    }
  }
}

async function verify(args: string[]): Promise<number> {
  const file = option(args, '--file');
  let records: ChainedAuditRecord[];
  let close: () => Promise<void> = async () => undefined;
  if (file) {
    records = [...recordsOfFile(file)];
  } else {
    const opened = await openLog();
    close = opened.close;
    records = [];
    for await (const record of readAll(opened.log)) records.push(record);
  }
  await close();
  const continues = records.length > 0 && records[0]!.prev_hash !== GENESIS_HASH;
  const result = verifyChain(records, { continues });
  if (result.ok) {
    process.stdout.write(`ok: ${result.count} records, chain intact${continues ? ' (starts mid-chain)' : ''}\n`);
    return 0;
  }
  process.stdout.write(`broken at record ${result.position} (id ${result.id ?? 'unknown'}): ${result.problem}; ${result.count} records before it verify\n`);
  return 1;
}

/** The audit CLI (docs/audit.md): export as JSON lines; verify the SHA-256 chain. */
async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'export') return exportRecords(args);
  if (command === 'verify') return verify(args);
  process.stderr.write(`${command === undefined ? 'no command given' : `unknown command '${command}'`}\n${USAGE}\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
