import type { VerifiedAccess } from './access.js';
import { jsonPoster, type JsonPoster } from './post-json.js';

/*
 * Activity receipts, the toolkit's side (docs/beyond-impersonation.md "Activity receipts"). Every
 * request an API accepted under an `act` token (RFC 8693 §4.1) is queued and sent to the provider's
 * `POST /receipts` in batches, which writes one `api.request` audit record each. Sending never
 * blocks nor fails the request: the queue is bounded, full means the receipt is dropped, and every
 * drop or failed batch is counted (`health().receipts`), never silent.
 */

/** The settings the emitter runs with (`receipts` of the toolkit's options, credentials filled in). */
export interface ReceiptSettings {
  readonly endpoint: () => Promise<string>;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
}

/** What the emitter did so far: visible in `health()`. */
export interface ReceiptStats {
  /** Waiting to be sent. */
  readonly queued: number;
  /** Accepted by the provider. */
  readonly sent: number;
  /** Dropped because the queue was full (back-pressure). */
  readonly dropped: number;
  /** Lost in a batch the provider could not be reached for, or refused. */
  readonly failed: number;
}

interface Receipt {
  readonly jti?: string;
  readonly token?: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Epoch ms; sent as ISO 8601. */
  readonly at: number;
}

/** The path of an absolute URL, without query or fragment (cheaper than parsing the whole URL on every request). */
function pathOf(url: string): string {
  const afterScheme = url.indexOf('//');
  const start = afterScheme < 0 ? 0 : url.indexOf('/', afterScheme + 2);
  if (start < 0) return '/';
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

/** A receipt as the provider's `POST /receipts` takes it: the time in ISO 8601. */
function onTheWire(r: Receipt): Record<string, unknown> {
  const at = new Date(r.at).toISOString();
  return r.jti !== undefined ? { jti: r.jti, method: r.method, path: r.path, status: r.status, at } : { token: r.token, method: r.method, path: r.path, status: r.status, at };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Queues receipts and sends them in the background. */
export class ReceiptEmitter {
  readonly #settings: ReceiptSettings;
  #queue: Receipt[] = [];
  #sent = 0;
  #dropped = 0;
  #failed = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sending: Promise<void> | undefined;
  /** A flush is already scheduled for the next turn (one, however many receipts arrive meanwhile). */
  #flushSoon = false;
  readonly #poster: JsonPoster = jsonPoster();

  constructor(settings: ReceiptSettings) {
    this.#settings = settings;
  }

  /**
   * Queues a receipt for a request accepted under `access`, if it acts for someone. `token` is the
   * presented value, kept only for an opaque token (the provider resolves it as it introspects).
   * Returns at once; never throws.
   */
  record(access: VerifiedAccess | undefined, request: { method: string; url: string; status: number; token?: string | undefined }): void {
    try {
      if (!access || access.actorChain.length === 0) return;
      if (this.#queue.length >= this.#settings.maxQueue) {
        this.#dropped += 1;
        return;
      }
      const path = pathOf(request.url);
      const id = access.token.format === 'jwt' ? access.token.id : undefined;
      if (id === undefined && (access.token.format === 'jwt' || request.token === undefined)) {
        this.#dropped += 1;
        return;
      }
      const { method, status } = request;
      const at = Date.now();
      this.#queue.push(id !== undefined ? { jti: id, method, path, status, at } : { token: request.token!, method, path, status, at });
      if (!this.#timer) {
        this.#timer = setInterval(() => void this.flush(), this.#settings.flushIntervalMs);
        this.#timer.unref?.();
      }
      if (this.#queue.length >= this.#settings.batchSize && !this.#flushSoon) {
        this.#flushSoon = true;
        setImmediate(() => {
          this.#flushSoon = false;
          void this.#send(false);
        });
      }
    } catch {
      this.#dropped += 1;
    }
  }

  /** Sends everything queued, one batch after another; resolves when done. Never rejects. */
  flush(): Promise<void> {
    return this.#send(true);
  }

  /**
   * One sender at a time. A full batch goes at once; a partial one only when `all` (the interval
   * timer, `flush()`, `close()`): under load, sending whatever arrived during the last round trip
   * would post a few receipts per request to the provider, and each post costs the API far more
   * CPU than the receipts it carries.
   */
  #send(all: boolean): Promise<void> {
    if (this.#sending) return all ? this.#sending.then(() => this.#send(true)) : this.#sending;
    this.#sending = this.#drain(all).finally(() => (this.#sending = undefined));
    return this.#sending;
  }

  async #drain(all: boolean): Promise<void> {
    while (this.#queue.length >= (all ? 1 : this.#settings.batchSize)) {
      const batch = this.#queue.splice(0, this.#settings.batchSize);
      try {
        const answer = await this.#poster.post(
          await this.#settings.endpoint(),
          { authorization: basic(this.#settings.clientId, this.#settings.clientSecret), 'content-type': 'application/json', accept: 'application/json' },
          JSON.stringify({ receipts: batch.map(onTheWire) }),
          this.#settings.timeoutMs,
        );
        const accepted = answer.ok ? (answer.body as { accepted?: unknown } | undefined)?.accepted : undefined;
        const counted = typeof accepted === 'number' ? accepted : 0;
        this.#sent += counted;
        this.#failed += batch.length - counted;
      } catch {
        this.#failed += batch.length;
      }
    }
  }

  stats(): ReceiptStats {
    return { queued: this.#queue.length, sent: this.#sent, dropped: this.#dropped, failed: this.#failed };
  }

  /** Sends what is left, stops the timer and closes the connection to the provider. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    this.#poster.close();
  }
}
