import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Registry } from 'prom-client';
import { boundedLogger, type Logger } from '../observability/logger.js';

const METRICS_REFUSAL = { error: 'invalid_token', error_description: '/metrics needs the metrics bearer token' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * `GET /metrics`: the Prometheus text exposition of the extension's instruments, for a scraper that
 * presents `token` as a bearer token (RFC 6750 §2.1). Anything else is answered 401 with a Bearer
 * challenge (RFC 6750 §3): live impersonation counts and refusal rules are not for everyone.
 */
export function metricsRoute(registry: Registry, token: string) {
  const expected = digest(token);
  return async function metrics(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    const authorization = ctx.get('authorization');
    const given = /^Bearer ([\x21-\x7e]+)$/.exec(authorization)?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', authorization ? 'Bearer realm="metrics", error="invalid_token"' : 'Bearer realm="metrics"');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = METRICS_REFUSAL;
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
}

/**
 * One log line per request: method, path (never the query string: it can carry codes), the status
 * the client gets, time. Install it outermost, so that the status is the final one; fields are
 * bounded like every log line (a 50 KB path is logged cut, with a digest).
 */
export function requestLog(logger: Logger) {
  const bounded = boundedLogger(logger);
  return async function log(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    let status: number | undefined;
    try {
      await next();
    } catch (err) {
      // Koa answers an error thrown this far out with its status (500 unless the error says otherwise).
      const declared = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
      status = typeof declared === 'number' && declared >= 400 && declared < 600 ? declared : 500;
      throw err;
    } finally {
      bounded.info({ method: ctx.method, path: ctx.path, status: status ?? ctx.status, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    }
  };
}

/**
 * With `LOG_LEVEL=debug`: one line per refused token request with the refusal's private detail
 * (which rule, and why: e.g. the scope lists that left nothing), which the client never sees.
 * Details name accounts, roles and scopes; like every log line it goes through the bounded logger,
 * so what a caller sent (an unknown subject that is really a token) is cut and digested.
 */
export function refusalDebugLog(provider: Provider, logger: Logger): void {
  const { debug } = boundedLogger(logger);
  if (!debug) return;
  provider.on('grant.error', (ctx: Context, err: { error?: string; error_detail?: string }) => {
    debug({ path: ctx.path, error: err.error, detail: err.error_detail?.slice(0, 300) }, 'token request refused');
  });
}
