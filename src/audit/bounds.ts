import { createHash } from 'node:crypto';

/*
 * Bounds on what a caller can make the provider write (docs/audit.md, issue 8 finding 1). Every audit
 * record (AuditRecorder) and every log line (boundedLogger) passes through `boundFields`, so no
 * field — proven or not — is ever stored or logged at more than its bound. Sizes count bytes of the
 * field's JSON-escaped UTF-8 form, which is what Redis and the log file hold.
 */

/** Per field, in bytes of JSON-escaped UTF-8. */
export const FIELD_BOUNDS: Readonly<Record<string, number>> = {
  id: 64,
  time: 32,
  event: 32,
  outcome: 16,
  rule: 64,
  actor: 128,
  subject: 128,
  client_id: 128,
  // docs/grant.md: at most 500 characters of at most 4 bytes each, so a valid reason is never cut.
  reason: 2000,
  scope: 1024,
  audience: 256,
  token_id: 128,
  expires_at: 32,
  ip: 64,
  user_agent: 256,
  request_id: 128,
  method: 16,
  path: 256,
  message: 256,
  name: 64,
};

/** The bound of a string field the table does not name. */
export const DEFAULT_FIELD_BOUND = 256;
/** Arrays (e.g. `audience`) keep at most this many entries. */
export const MAX_ARRAY_ENTRIES = 4;
/** Nested objects in a log line are bounded down to this depth; deeper ones are replaced. */
const MAX_DEPTH = 3;
/** No audit record (with its chain hashes) is longer than this, whatever a caller sends. */
export const AUDIT_RECORD_MAX_BYTES = 8192;
/** No log line the extension or the reference server writes is longer than this. */
export const LOG_LINE_MAX_BYTES = 2048;

/** Fields naming a party: a value that looks like a credential is recorded only as a digest (finding 7). */
const IDENTITY_FIELDS: ReadonlySet<string> = new Set(['actor', 'subject', 'client_id']);
/** Fields the provider itself fills with ids and digests (a JWT's `jti`, `sha256:…`): kept as they are. */
const OWN_IDS: ReadonlySet<string> = new Set(['id', 'time', 'token_id', 'prev_hash', 'hash']);

const MARKER_BYTES = 48;

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 16);
}

/** Bytes a code point takes in JSON-escaped UTF-8 (an upper bound for lone surrogates). */
function encodedBytes(codePoint: number): number {
  if (codePoint === 0x22 || codePoint === 0x5c) return 2;
  if (codePoint < 0x20) return codePoint === 0x08 || codePoint === 0x09 || codePoint === 0x0a || codePoint === 0x0c || codePoint === 0x0d ? 2 : 6;
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 6;
  return codePoint < 0x10000 ? 3 : 4;
}

/** The byte length of `value` once JSON-escaped and UTF-8 encoded (without the quotes). */
export function jsonBytes(value: string): number {
  let total = 0;
  for (const char of value) total += encodedBytes(char.codePointAt(0)!);
  return total;
}

/** Printable ASCII but `"` and `\\`: one byte each once JSON-escaped (ids, times, most text). */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * `value` unchanged when it fits `max` bytes; otherwise its longest prefix (whole code points) that
 * fits with a marker naming a digest of the whole value: `…[cut sha256:<16 base64url>]`.
 */
export function boundString(value: string, max: number): string {
  if (value.length * 6 <= max || (value.length <= max && PLAIN_ASCII.test(value)) || jsonBytes(value) <= max) return value;
  let kept = 0;
  let end = 0;
  for (const char of value) {
    const bytes = encodedBytes(char.codePointAt(0)!);
    if (kept + bytes > max - MARKER_BYTES) break;
    kept += bytes;
    end += char.length;
  }
  return `${value.slice(0, end)}…[cut sha256:${digest(value)}]`;
}

// Candidates: a JWS/JWE compact serialisation (base64url of a JSON header, always "eyJ…", and its
// dot-separated parts), or a base64url run, whole or split by dots (a token cut in two to slip past
// the run length), of 32 base64url characters or more.
const TOKEN_CANDIDATES = /eyJ[\w-]{8,}(?:\.[\w-]*){1,4}|[\w-]+(?:\.[\w-]+)*/g;
/** Base64url characters a candidate needs, dots not counted: oidc-provider's opaque tokens have 43. */
const MIN_TOKEN_CHARS = 32;
// Whatever its alphabet, an unbroken run this long is no account id.
const LONG_RUN = /[\w+/=.-]{64,}/;

/**
 * A JWT, or random-looking base64url of at least {@link MIN_TOKEN_CHARS} characters once dots are
 * dropped (upper case, lower case and digits mixed). Dotted ids (`user.name@example.com`,
 * `first.last.2024`) stay short or unmixed.
 */
function isTokenShaped(run: string): boolean {
  if (run.startsWith('eyJ') && run.includes('.')) return true;
  const chars = run.replaceAll('.', '');
  return chars.length >= MIN_TOKEN_CHARS && /[A-Z]/.test(chars) && /[a-z]/.test(chars) && /[0-9]/.test(chars);
}

/**
 * Whether `text` can hold a token-shaped run at all: one starts with "eyJ" or spans
 * {@link MIN_TOKEN_CHARS} base64url characters (dots between them allowed). Most fields (an event
 * name, a scope, a sentence of a reason) have neither, and skip the scan of every word.
 */
const MAY_HOLD_TOKEN = new RegExp(`eyJ|[\\w.-]{${MIN_TOKEN_CHARS},}`);
function mayHoldToken(text: string): boolean {
  return text.length >= MIN_TOKEN_CHARS ? MAY_HOLD_TOKEN.test(text) : text.includes('eyJ');
}

/** Whether a text holds something shaped like a token. Words, URLs, UUIDs and hex ids do not. */
export function containsToken(text: string): boolean {
  if (!mayHoldToken(text)) return false;
  for (const [run] of text.matchAll(TOKEN_CANDIDATES)) if (isTokenShaped(run)) return true;
  return false;
}

/** The text with every token-shaped run replaced by `[redacted sha256:<16 base64url>]`. */
export function redactTokens(text: string): string {
  if (!mayHoldToken(text)) return text;
  return text.replace(TOKEN_CANDIDATES, (run) => (isTokenShaped(run) ? `[redacted sha256:${digest(run)}]` : run));
}

/**
 * Whether a value offered as an account or client id looks like a credential instead: it holds a
 * token ({@link containsToken}) or is an implausibly long unbroken run. UUIDs, e-mail addresses and
 * `provider|id` forms do not.
 */
export function looksLikeCredential(value: string): boolean {
  return LONG_RUN.test(value) || containsToken(value);
}

/** An identity field as it may be recorded: a credential-like value only as a digest, else bounded. */
export function boundIdentity(value: string): string {
  return looksLikeCredential(value) ? `[redacted sha256:${digest(value)}]` : boundString(value, FIELD_BOUNDS.client_id!);
}

function boundValue(name: string, value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    if (IDENTITY_FIELDS.has(name)) return boundIdentity(value);
    return boundString(OWN_IDS.has(name) ? value : redactTokens(value), FIELD_BOUNDS[name] ?? DEFAULT_FIELD_BOUND);
  }
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_ARRAY_ENTRIES).map((entry) => boundValue(name, entry, depth + 1));
    return value.length > MAX_ARRAY_ENTRIES ? [...kept, `…[${value.length - MAX_ARRAY_ENTRIES} more]`] : kept;
  }
  if (typeof value === 'object' && value !== null) {
    return depth >= MAX_DEPTH ? '[object]' : boundFields(value as Record<string, unknown>, depth + 1);
  }
  return value;
}

/**
 * Every field of an audit record or log line within its bound ({@link FIELD_BOUNDS}); identity
 * fields that look like credentials replaced by a digest, and token-shaped runs in any other text
 * (a refusal's detail, an error message) too. Numbers and booleans pass unchanged.
 */
export function boundFields<T extends object>(fields: T, depth = 0): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) out[name] = boundValue(name, value, depth);
  }
  return out as T;
}
