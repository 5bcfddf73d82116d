import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { RequestFacts } from '../audit/recorder.js';
import { IMPERSONATION_AMR } from '../constants.js';
import { ExchangeRefusal } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { isTicketHint } from './ticket-hints.js';
import type { TicketService } from './tickets.js';

type Next = () => Promise<unknown>;

interface Dependencies {
  readonly provider: Provider;
  readonly tickets: TicketService;
  readonly path: string;
  readonly requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  readonly logger: Logger;
  /** The person who started the impersonation behind a grant, if it is one. */
  readonly actorOf: (grantId: string) => Promise<string | undefined>;
}

/** RFC 6749 §4.1.2.1 errors the client receives at its redirect URI. */
type AuthorizationError = { error: 'access_denied' | 'server_error'; error_description: string };

function claimNames(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    return [...new Set([parsed.id_token, parsed.userinfo].flatMap((part) => (part && typeof part === 'object' ? Object.keys(part) : [])))];
  } catch {
    return [];
  }
}

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The extension's own interaction handler (docs/browser-impersonation.md §3), where `interactions.url` sends logins that
 * carry a ticket. It redeems the ticket and signs the browser in as the subject — no password, no
 * consent prompt — with the impersonation marked on the session (`amr`) and its grant ready; any
 * refusal ends the authorization request with `access_denied` at the client's redirect URI and no
 * session. Consent asked inside an impersonated session is refused the same way: an impersonator
 * never widens what the subject granted.
 */
export function createImpersonationInteraction(deps: Dependencies) {
  const { provider } = deps;
  const route = new RegExp(`^${deps.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([\\w-]+)$`);

  async function finish(ctx: KoaContextWithOIDC, result: Parameters<Provider['interactionFinished']>[2]): Promise<void> {
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
  }

  /** Who the browser is signed in as at the provider (the interaction's session), and for an impersonated session who started it. */
  async function signedIn(session: { accountId: string; uid?: string; amr?: string[] } | undefined) {
    if (!session) return undefined;
    if (!session.amr?.includes(IMPERSONATION_AMR) || !session.uid) return { accountId: session.accountId, actors: [] };
    const model = await provider.Session.findByUid(session.uid);
    const grantIds = Object.values(model?.authorizations ?? {}).map((a) => a.grantId).filter((id): id is string => typeof id === 'string');
    const actors = (await Promise.all(grantIds.map((id) => deps.actorOf(id)))).map((a) => a ?? '');
    // An impersonated session whose impersonation is gone counts as someone else's.
    return { accountId: session.accountId, actors: actors.length ? actors : [''] };
  }

  async function redeem(ctx: KoaContextWithOIDC, params: Record<string, unknown>, session: Parameters<typeof signedIn>[0]): Promise<void> {
    try {
      const redeemed = await deps.tickets.redeem(
        {
          ticket: String(params.login_hint),
          clientId: String(params.client_id),
          scope: typeof params.scope === 'string' ? params.scope : undefined,
          resources: list(params.resource),
          claims: claimNames(params.claims),
          signedIn: await signedIn(session),
        },
        deps.requestFacts(ctx),
      );
      await finish(ctx, {
        login: { accountId: redeemed.subject, ts: redeemed.startedAt, amr: [IMPERSONATION_AMR], remember: false },
        consent: { grantId: redeemed.grantId },
      });
    } catch (err) {
      let denial: AuthorizationError;
      if (err instanceof ExchangeRefusal && err.status < 500) {
        denial = { error: 'access_denied', error_description: err.description };
      } else {
        deps.logger.error({ err: { name: (err as Error).name, message: (err as Error).message }, request_id: deps.requestFacts(ctx).requestId }, 'ticket redemption failed');
        denial = { error: 'server_error', error_description: 'the impersonation could not be started' };
      }
      await finish(ctx, denial);
    }
  }

  return async function impersonationInteraction(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    if (ctx.method !== 'GET' || !route.test(ctx.path)) return void (await next());
    ctx.set('Cache-Control', 'no-store');
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      ctx.status = 400;
      ctx.type = 'text';
      ctx.body = 'This sign-in link has expired or was already used. Start again from the application.';
      return;
    }
    if (details.prompt.name === 'login' && isTicketHint(details.params.login_hint)) {
      await redeem(ctx, details.params, details.session);
      return;
    }
    await finish(ctx, { error: 'access_denied', error_description: 'an impersonated session cannot grant consent' });
  };
}
