import { PROVIDER_PROOF_ALGORITHMS, PROVIDER_PROOF_WINDOW_SECONDS, verifyProof } from '../dpop/proof.js';
import { ExchangeRefusal } from '../errors.js';

/** Records a proof's `jti` once; answers false when it was seen before (replay). */
export type ReplayCheck = (clientId: string, jti: string, expiresAt: number) => Promise<boolean>;

function invalidProof(detail: string): ExchangeRefusal {
  return new ExchangeRefusal('dpop_proof_invalid', 'invalid_dpop_proof', 'invalid DPoP proof', { detail });
}

/**
 * Validates the `DPoP` request header for the token endpoint (RFC 9449 §4.3, through the shared
 * verifier in src/dpop/proof.ts) and returns the proof key's JWK SHA-256 thumbprint (RFC 7638), or
 * `undefined` when no proof was sent.
 */
export async function verifyDpopProof(input: {
  proof: string | undefined;
  tokenEndpoint: string;
  clientId: string;
  clockTolerance: number;
  replay: ReplayCheck;
}): Promise<string | undefined> {
  if (!input.proof) return undefined;
  const checked = await verifyProof(input.proof, { method: 'POST', url: input.tokenEndpoint }, undefined, {
    algorithms: PROVIDER_PROOF_ALGORITHMS,
    iatWindowSeconds: PROVIDER_PROOF_WINDOW_SECONDS,
    clockToleranceSeconds: input.clockTolerance,
    now: Date.now,
  });
  if (!checked.ok) throw invalidProof(checked.detail);
  const { jti, rememberUntil, thumbprint } = checked.proof;
  if (!(await input.replay(input.clientId, jti, Math.ceil(rememberUntil / 1000)))) throw invalidProof('replayed');
  return thumbprint;
}

/**
 * RFC 9449 §7: a sender-constrained token is usable only with a proof of its key. An exchange
 * that presents one must be signed by the same key, and what it issues stays bound to it.
 */
export function assertBoundTokenProven(role: 'actor' | 'subject', boundTo: string | undefined, proven: string | undefined): void {
  if (boundTo !== undefined && boundTo !== proven) {
    throw new ExchangeRefusal(
      role === 'actor' ? 'actor_token_invalid' : 'subject_token_invalid',
      'invalid_request',
      `${role}_token is DPoP-bound; send a DPoP proof made with its key`,
      { detail: proven ? 'proof key differs from the token binding' : 'no DPoP proof' },
    );
  }
}
