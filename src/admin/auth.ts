import type Provider from 'oidc-provider';
import { ADMIN_SCOPE } from '../constants.js';
import { PROVIDER_PROOF_ALGORITHMS, PROVIDER_PROOF_WINDOW_SECONDS, verifyProof, type VerifiedProof } from '../dpop/proof.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';

/** The authentication scheme a refusal's challenge names (RFC 6750 §3, RFC 9449 §7.1). */
export type AdminScheme = 'Bearer' | 'DPoP';

/** A refusal of the admin surfaces: HTTP status, OAuth-style error code, fixed description. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    /** The scheme the `WWW-Authenticate` challenge names; Bearer unless DPoP is at issue. */
    readonly scheme: AdminScheme = 'Bearer',
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

/** An HTTP request to the admin API, as far as its credentials go. */
export interface AdminRequest {
  readonly method: string;
  /** The absolute URI the client addressed (RFC 9449 §4.3 `htu`). */
  readonly url: string;
  readonly authorization: string;
  readonly dpop: string | undefined;
}

/** RFC 6750 §2.1 `b64token` after the scheme (RFC 9449 §7.1 uses the same syntax for `DPoP`). */
const AUTHORIZATION = /^(Bearer|DPoP) ([\w.~+/-]+=*)$/i;
const INVALID_TOKEN = 'the access token is invalid, expired or revoked';
const INVALID_PROOF = 'invalid DPoP proof';

/** Epoch seconds a proof's `jti` is remembered until (RFC 9449 §11.1). */
const rememberedUntil = (proof: VerifiedProof) => Math.ceil(proof.rememberUntil / 1000);

/**
 * The one authorization path of the admin API and the support console (docs/admin-console.md):
 * an access token of this provider that holds `impersonation:admin`, is not itself an
 * impersonation, whose grant stands, and — unless the rules that follow audit it themselves
 * (ticket minting, asking for approval) — whose account exists, is enabled and holds an actor
 * role, read live on every request. A DPoP-bound token is accepted only with a proof of its key
 * (RFC 9449 §7). RFC 6750 §3: invalid_token (401) / insufficient_scope (403).
 */
export function createAdminAuthenticator(provider: Provider, lifecycle: ImpersonationLifecycle, options: { clockTolerance?: number } = {}) {
  const clockToleranceSeconds = options.clockTolerance ?? 0;

  async function findToken(value: string) {
    const token = await provider.AccessToken.find(value);
    if (!token?.isValid || !token.accountId) throw new AdminError(401, 'invalid_token', INVALID_TOKEN);
    return token;
  }

  async function authorize(token: Awaited<ReturnType<typeof findToken>>, eligibility: boolean): Promise<AdminCaller> {
    const extra = (token.extra ?? {}) as { act?: unknown };
    if (extra.act !== undefined) throw new AdminError(403, 'insufficient_scope', 'an impersonation cannot administer impersonation');
    if (!token.scope?.split(' ').includes(ADMIN_SCOPE)) throw new AdminError(403, 'insufficient_scope', `the access token needs the ${ADMIN_SCOPE} scope`);
    if (!(await provider.Grant.find(token.grantId))) throw new AdminError(401, 'invalid_token', INVALID_TOKEN);
    if (eligibility && !(await lifecycle.accountMayImpersonate(token.accountId!))) {
      throw new AdminError(403, 'insufficient_scope', 'this account may not administer impersonation');
    }
    return { accountId: token.accountId!, grantId: token.grantId, sessionUid: token.sessionUid };
  }

  /**
   * A token the console holds on the server for its signed-in agent (never sent by a client),
   * checked on every console request. A sender-constrained token cannot be used this way.
   */
  async function authenticate(value: string, eligibility = true): Promise<AdminCaller> {
    const token = await findToken(value);
    if (token.isSenderConstrained()) throw new AdminError(401, 'invalid_token', INVALID_TOKEN);
    return authorize(token, eligibility);
  }

  /**
   * A request to the admin API: `Authorization: Bearer <token>` for an unbound token, or
   * `Authorization: DPoP <token>` with a `DPoP` proof of the key the token is bound to (RFC 9449 §7).
   */
  async function authenticateRequest(request: AdminRequest, eligibility = true): Promise<AdminCaller> {
    const match = AUTHORIZATION.exec(request.authorization);
    if (!match) throw new AdminError(401, 'invalid_token', 'a bearer access token is required');
    const scheme: AdminScheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const value = match[2]!;
    let proof: VerifiedProof | undefined;
    if (scheme === 'DPoP') {
      const checked = await verifyProof(request.dpop, request, value, {
        algorithms: PROVIDER_PROOF_ALGORITHMS,
        iatWindowSeconds: PROVIDER_PROOF_WINDOW_SECONDS,
        clockToleranceSeconds,
        now: Date.now,
      });
      if (!checked.ok) throw new AdminError(401, 'invalid_dpop_proof', INVALID_PROOF, 'DPoP');
      proof = checked.proof;
    }
    const token = await findToken(value);
    // RFC 9449 §7.1, §7.2: a bound token only with a proof of its key; an unbound one only as Bearer.
    if (token['x5t#S256']) throw new AdminError(401, 'invalid_token', INVALID_TOKEN, scheme);
    if (scheme === 'Bearer' && token.jkt) throw new AdminError(401, 'invalid_token', 'this access token is DPoP-bound: present it with the DPoP scheme and a proof', 'DPoP');
    if (proof) {
      if (!token.jkt) throw new AdminError(401, 'invalid_token', 'this access token is not DPoP-bound: present it with the Bearer scheme', 'DPoP');
      if (token.jkt !== proof.thumbprint) throw new AdminError(401, 'invalid_token', 'invalid DPoP key binding', 'DPoP');
      if (!(await provider.ReplayDetection.unique(`dpop:${proof.thumbprint}`, proof.jti, rememberedUntil(proof)))) {
        throw new AdminError(401, 'invalid_dpop_proof', INVALID_PROOF, 'DPoP');
      }
    }
    return authorize(token, eligibility);
  }

  /** When the caller last authenticated (`maxActorAuthAgeSeconds`, docs/policy.md), from the session behind the token. */
  async function authTimeOf(caller: AdminCaller): Promise<number | undefined> {
    return caller.sessionUid ? (await provider.Session.findByUid(caller.sessionUid))?.authTime() : undefined;
  }

  return { authenticate, authenticateRequest, authTimeOf, proofAlgorithms: PROVIDER_PROOF_ALGORITHMS };
}

export type AdminAuthenticator = ReturnType<typeof createAdminAuthenticator>;
