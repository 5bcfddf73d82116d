import type Provider from 'oidc-provider';
import { ADMIN_SCOPE } from '../constants.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';

/** A refusal of the admin surfaces: HTTP status, OAuth-style error code, fixed description. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'AdminError';
  }
}

/** Who presented an admin access token, and the grant and session behind it. */
export interface AdminCaller {
  readonly accountId: string;
  readonly grantId: string | undefined;
  readonly sessionUid: string | undefined;
}

/**
 * SPEC §6: the admin API and console act for an access token of this provider that holds
 * `impersonation:admin`, is not itself an impersonation, whose grant stands, and — unless the rules
 * that follow audit it themselves (ticket minting) — whose account may impersonate, read live.
 * RFC 6750 §3: invalid_token (401) / insufficient_scope (403).
 */
export function createAdminAuthenticator(provider: Provider, lifecycle: ImpersonationLifecycle) {
  async function authenticate(value: string, eligibility = true): Promise<AdminCaller> {
    const token = await provider.AccessToken.find(value);
    if (!token?.isValid || !token.accountId) throw new AdminError(401, 'invalid_token', 'the access token is invalid, expired or revoked');
    const extra = (token.extra ?? {}) as { act?: unknown };
    if (extra.act !== undefined) throw new AdminError(403, 'insufficient_scope', 'an impersonation cannot administer impersonation');
    if (!token.scope?.split(' ').includes(ADMIN_SCOPE)) throw new AdminError(403, 'insufficient_scope', `the access token needs the ${ADMIN_SCOPE} scope`);
    if (!(await provider.Grant.find(token.grantId))) throw new AdminError(401, 'invalid_token', 'the access token is invalid, expired or revoked');
    if (eligibility && !(await lifecycle.accountMayImpersonate(token.accountId))) {
      throw new AdminError(403, 'insufficient_scope', 'this account may not administer impersonation');
    }
    return { accountId: token.accountId, grantId: token.grantId, sessionUid: token.sessionUid };
  }

  /** When the caller last authenticated (SPEC §2 `maxActorAuthAgeSeconds`), from the session behind the token. */
  async function authTimeOf(caller: AdminCaller): Promise<number | undefined> {
    return caller.sessionUid ? (await provider.Session.findByUid(caller.sessionUid))?.authTime() : undefined;
  }

  return { authenticate, authTimeOf };
}

export type AdminAuthenticator = ReturnType<typeof createAdminAuthenticator>;
