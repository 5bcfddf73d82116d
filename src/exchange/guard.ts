import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import { TOKEN_EXCHANGE_GRANT } from '../constants.js';
import type { RefusalRule } from '../errors.js';
import { auditableReason } from './request.js';

type Next = () => Promise<unknown>;

interface ErrorBody {
  error?: unknown;
  error_description?: unknown;
}

/**
 * oidc-provider answers these with `invalid_request`; RFC 6749 §5.2 names `unauthorized_client`
 * and `invalid_client` (400: no Authorization header was used).
 */
const REWRITES: ReadonlyMap<string, { error: string; error_description: string }> = new Map([
  ['requested grant type is not allowed for this client', { error: 'unauthorized_client', error_description: 'this client is not allowed to use the token-exchange grant' }],
  ['no client authentication mechanism provided', { error: 'invalid_client', error_description: 'client authentication is required' }],
]);

/**
 * Refusals oidc-provider makes before the grant handler runs (client authentication, duplicate
 * parameters, a client without the grant), mapped to the rule the audit record names.
 */
function ruleOf(body: ErrorBody, status: number): RefusalRule {
  if (body.error === 'unauthorized_client') return 'client_grant_not_allowed';
  if (body.error === 'invalid_client') return 'client_authentication_failed';
  if (typeof body.error_description === 'string' && body.error_description.includes('must not be provided twice')) return 'parameter_duplicated';
  if (status >= 500) return 'server_error';
  return 'request_malformed';
}

/**
 * Koa middleware around the provider (installed with `provider.use`). For token-exchange requests it
 * (1) answers a client lacking the grant with `unauthorized_client`, and a request without client
 * authentication with `invalid_client` (RFC 6749 §5.2), where oidc-provider says `invalid_request`;
 * (2) audits every refusal the grant handler never saw.
 */
export function createTokenEndpointGuard(deps: {
  recorder: AuditRecorder;
  wasAudited: (ctx: KoaContextWithOIDC) => boolean;
  requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
}) {
  return async function tokenExchangeGuard(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    if (ctx.status < 400 || !('oidc' in ctx) || ctx.oidc?.route !== 'token') return;
    const params = (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
    if (params.grant_type !== TOKEN_EXCHANGE_GRANT) return;

    const body = (typeof ctx.body === 'object' && ctx.body !== null ? ctx.body : {}) as ErrorBody;
    const rewrite = body.error === 'invalid_request' && typeof body.error_description === 'string' ? REWRITES.get(body.error_description) : undefined;
    if (rewrite) {
      ctx.status = 400;
      ctx.body = { ...rewrite };
    }
    if (deps.wasAudited(ctx)) return;
    try {
      await deps.recorder.record(
        'exchange.denied',
        {
          outcome: ctx.status >= 500 ? 'error' : 'denied',
          rule: ruleOf(ctx.body as ErrorBody, ctx.status),
          client_id: ctx.oidc.client?.clientId ?? params.client_id,
          reason: auditableReason(params),
        },
        deps.requestFacts(ctx),
      );
    } catch {
      // Nothing was issued; the sink reports its own failure.
    }
  };
}
