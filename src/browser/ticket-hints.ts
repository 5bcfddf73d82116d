import { createHash } from 'node:crypto';
import { TICKET_PREFIX } from '../constants.js';

/** A ticket is never stored or logged: only the SHA-256 of it. */
export function digestOf(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}

/** Whether a `login_hint` is shaped like a ticket (anything else is an ordinary hint, docs/browser-impersonation.md §3). */
export function isTicket(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(TICKET_PREFIX) && /^[\w-]{40,100}$/.test(value.slice(TICKET_PREFIX.length));
}

const DIGEST_HINT = `${TICKET_PREFIX}sha256.`;

/**
 * The `login_hint` an authorization request carries on once it was read: the ticket's digest in
 * place of the ticket, so that the interaction oidc-provider stores holds no ticket
 * (docs/browser-impersonation.md, "Redemption").
 */
export function ticketDigestHint(ticket: string): string {
  return `${DIGEST_HINT}${digestOf(ticket)}`;
}

/** Whether a `login_hint` is a ticket's digest as `ticketDigestHint` writes it. */
export function isTicketDigestHint(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(DIGEST_HINT) && /^[\w-]{43}$/.test(value.slice(DIGEST_HINT.length));
}

/** Whether a `login_hint` names a ticket, as itself or as its digest. */
export function isTicketHint(value: unknown): value is string {
  return isTicket(value) || isTicketDigestHint(value);
}

/** The digest a presented ticket is stored under: the ticket's, or the digest a digest hint carries. */
export function presentedDigest(ticketOrHint: string): string {
  return isTicketDigestHint(ticketOrHint) ? ticketOrHint.slice(DIGEST_HINT.length) : digestOf(ticketOrHint);
}
