import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/**
 * A webhook receiver on 127.0.0.1: records every delivery and answers with the next status of
 * `statuses` (then 200), or holds the response until `release()` when `hold` is set.
 */
export async function startReceiver(options: { statuses?: number[]; hold?: boolean } = {}) {
  const deliveries: Delivery[] = [];
  const statuses = [...(options.statuses ?? [])];
  const held: Array<() => void> = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      for (const waiter of waiters.filter((w) => deliveries.length >= w.count)) waiter.resolve();
      const answer = () => res.writeHead(statuses.shift() ?? 200).end();
      if (options.hold) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    deliveries,
    /** Resolves once `count` deliveries arrived (rejects after 10 s). */
    received(count: number): Promise<void> {
      if (deliveries.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${deliveries.length} of ${count} deliveries arrived`)), 10_000);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    release(): void {
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
