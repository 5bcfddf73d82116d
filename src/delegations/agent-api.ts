import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { RequestFacts } from '../audit/recorder.js';
import { readForm } from '../web/forms.js';
import { DelegationError, type DelegationService } from './service.js';

type Next = () => Promise<unknown>;

/**
 * The agents' side of delegation (docs/beyond-impersonation.md "Delegation to agents"), under
 * `<issuer>/agent/delegations`. An agent authenticates with its own client-credentials access
 * token (RFC 6750 §2.1 Bearer; RFC 6749 §4.4), the one it later sends as `actor_token`:
 *
 * - `POST /agent/delegations` (form: `subject`, `scope`, `reason`) asks a user: 201 and the request;
 * - `GET /agent/delegations/<id>` reads it; the first read once granted carries `subject_token`;
 * - `GET /agent/delegations` lists the agent's delegations.
 */
export function createAgentApi(deps: { provider: Provider; delegations: DelegationService; requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts; path?: string }) {
  const base = deps.path ?? '/agent/delegations';

  async function agentOf(ctx: KoaContextWithOIDC): Promise<string> {
    const header = ctx.get('authorization');
    const match = /^Bearer ([\x21-\x7E]+)$/i.exec(header);
    const token = match ? await deps.provider.ClientCredentials.find(match[1]!) : undefined;
    if (!token || token.isExpired) {
      ctx.set('WWW-Authenticate', match ? 'Bearer error="invalid_token"' : 'Bearer');
      throw new DelegationError(401, 'invalid_token', "send the agent's client-credentials access token as a Bearer token");
    }
    return token.clientId!;
  }

  return async function agentApi(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    if (ctx.path !== base && !ctx.path.startsWith(`${base}/`)) return void (await next());
    ctx.set('Cache-Control', 'no-store');
    try {
      const agent = await agentOf(ctx);
      const id = ctx.path.slice(base.length + 1);
      if (ctx.path === base && ctx.method === 'POST') {
        const form = await readForm(ctx);
        ctx.status = 201;
        ctx.body = await deps.delegations.request(agent, { subject: form.get('subject'), scope: form.get('scope') ?? undefined, reason: form.get('reason') ?? undefined }, deps.requestFacts(ctx));
      } else if (ctx.path === base && ctx.method === 'GET') {
        ctx.body = { delegations: await deps.delegations.list({ agent }) };
      } else if (id && !id.includes('/') && ctx.method === 'GET') {
        ctx.body = await deps.delegations.collect(decodeURIComponent(id), agent, deps.requestFacts(ctx));
      } else {
        throw new DelegationError(405, 'invalid_request', 'method not allowed');
      }
    } catch (err) {
      if (!(err instanceof DelegationError)) {
        if (err instanceof URIError) return void ((ctx.status = 404), (ctx.body = { error: 'not_found', error_description: 'unknown delegation' }));
        throw err;
      }
      ctx.status = err.status;
      ctx.body = { error: err.error, error_description: err.description };
    }
  };
}
