import type * as Http from 'node:http';
import type * as Https from 'node:https';

/** What a JSON POST answered: whether the status was 2xx, and the parsed body (`undefined` when not JSON). */
export interface PostAnswer {
  readonly ok: boolean;
  readonly body: unknown;
}

/** Posts a JSON body; rejects on a network failure or after `timeoutMs`. */
export interface JsonPoster {
  post(url: string, headers: Readonly<Record<string, string>>, body: string, timeoutMs: number): Promise<PostAnswer>;
  /** Closes kept-alive connections. */
  close(): void;
}

/** At most this much of an answer is read (the provider answers a few dozen bytes). */
const MAX_ANSWER_BYTES = 64 * 1024;

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Any runtime: `fetch`. */
function fetchPoster(): JsonPoster {
  return {
    async post(url, headers, body, timeoutMs) {
      const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) {
        await response.body?.cancel();
        return { ok: false, body: undefined };
      }
      return { ok: true, body: parse(await response.text()) };
    },
    close() {},
  };
}

/**
 * Node: `node:http`/`node:https` over one kept-alive connection. Node's `fetch` (undici) costs about
 * three times the CPU of a plain request per POST (docs/performance.md "Activity receipts: what it took"), and
 * the sender runs in the API's own process.
 */
function nodePoster(): JsonPoster {
  type Modules = { http: typeof Http; https: typeof Https };
  let modules: Promise<Modules> | undefined;
  const agents = new Map<string, Http.Agent>();
  const load = () => (modules ??= Promise.all([import('node:http'), import('node:https')]).then(([http, https]) => ({ http, https })));
  return {
    async post(url, headers, body, timeoutMs) {
      const { http, https } = await load();
      const target = new URL(url);
      const transport = target.protocol === 'https:' ? https : http;
      let agent = agents.get(target.protocol);
      if (!agent) {
        agent = new transport.Agent({ keepAlive: true, maxSockets: 1 });
        agents.set(target.protocol, agent);
      }
      const sent = agent;
      return new Promise<PostAnswer>((resolve, reject) => {
        const request = transport.request(target, { method: 'POST', agent: sent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
          });
          response.on('end', () => {
            clearTimeout(timer);
            const status = response.statusCode ?? 0;
            const ok = status >= 200 && status < 300 && size <= MAX_ANSWER_BYTES;
            resolve({ ok, body: ok ? parse(Buffer.concat(chunks).toString('utf8')) : undefined });
          });
          response.on('error', reject);
          // Cut off before its end (the timeout, the connection lost): a settled promise ignores this.
          response.on('close', () => {
            if (!response.complete) reject(new Error('answer cut off'));
          });
        });
        const timer = setTimeout(() => request.destroy(new Error('timed out')), timeoutMs);
        request.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        request.end(body);
      });
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

/** The poster for this runtime: Node's own HTTP client on Node, `fetch` anywhere else. */
export function jsonPoster(): JsonPoster {
  const onNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  return onNode ? nodePoster() : fetchPoster();
}
