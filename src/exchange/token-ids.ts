import { createHash } from 'node:crypto';

/*
 * The ids under which this provider's signed tokens are recorded and audited. A JWT carries no
 * revocation state of its own (RFC 7519): a token of this provider counts only while its record
 * lives (docs/introspection-revocation.md, "Offline JWT verification").
 */

/**
 * The `jti` namespace of tokens the token-exchange grant issues: `tx.` and a random id
 * (oidc-provider's own ids never hold a dot). A JWT of this provider in that namespace without a
 * live record was revoked.
 */
const EXCHANGED_JWT_ID = 'tx.';

/** The namespace of ID tokens recorded by digest (oidc-provider's ID tokens carry no `jti`). */
const ID_TOKEN_DIGEST = 'idt.';

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** A fresh `jti` for a token the token-exchange grant issues. */
export function exchangedJwtId(random: string): string {
  return `${EXCHANGED_JWT_ID}${random}`;
}

/** Whether a `jti` names a JWT issued by the token-exchange grant. */
export function isExchangedJwtId(jti: unknown): boolean {
  return typeof jti === 'string' && jti.startsWith(EXCHANGED_JWT_ID);
}

/**
 * The record id of an ID token this provider signed: its `jti` when the grant issued it, else the
 * SHA-256 of the token itself (OIDC Core §2 defines no `jti`), so no record holds a usable token.
 */
export function idTokenRecordId(value: string, jti: unknown): string {
  return isExchangedJwtId(jti) ? (jti as string) : `${ID_TOKEN_DIGEST}${sha256(value)}`;
}

/**
 * The token's identifier as the audit trail may hold it: a JWT's `jti`; for an opaque token, whose
 * value *is* its identifier in oidc-provider, the SHA-256 of it, so no record holds a usable token.
 */
export function auditableTokenId(jti: string, format: string): string {
  return format === 'jwt' ? jti : `sha256:${sha256(jti)}`;
}
