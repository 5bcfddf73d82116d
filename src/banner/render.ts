import type { ActClaim } from '../claims/act.js';
import { html, type Html } from '../web/html.js';

/** The custom element's tag name. */
export const IMPERSONATION_BANNER_TAG = 'impersonation-banner';

/** What the banner shows, read from an ID token's claims. */
export interface ImpersonationBannerView {
  /** The user whose identity is taken on: the token's `sub`. */
  readonly subject: string;
  /** The human really signed in: the innermost actor of the chain (RFC 8693 §4.1). */
  readonly actor: string;
  /** The outermost (current) actor, when the chain is longer than one: a service in between. */
  readonly via?: string;
  /** The kind of entity `actor` is (`act.sub_profile`, draft-mcguinness-oauth-actor-profile): `user`, `ai_agent`, `service`. */
  readonly actorProfile?: string;
  /** Every actor, the current one first, as the `act` claim nests them. */
  readonly chain: readonly ActClaim[];
  /** The `impersonation.id` claim, when the provider sets it. */
  readonly impersonationId?: string;
}

/** Where "End impersonation" posts, and the anti-CSRF field to send with it. */
export interface BannerFormOptions {
  /** The app's logout route, which performs RP-initiated logout (default `/logout`). */
  readonly action?: string;
  readonly csrfToken?: string;
  /** The form field name of the CSRF token (default `csrf`). */
  readonly csrfField?: string;
  /** When the impersonation ends (shown as a clock time). */
  readonly expiresAt?: Date | string;
}

/**
 * How the banner names who acts, by kind (draft-mora-oauth-entity-profiles §3.1): a person signed
 * in; an AI agent or a service acts. The element (`impersonation-banner.js`) words it the same.
 */
export function actingWords(profile: string | undefined): string {
  if (profile === 'ai_agent') return 'an AI assistant acts:';
  if (profile === 'service') return 'a service acts:';
  return 'signed in by';
}

/**
 * The `<impersonation-banner>` element for a view, every value escaped by the `html` tag: its
 * attributes carry the view to the element's script, its light DOM is the plain fallback form.
 */
export function bannerMarkup(view: ImpersonationBannerView, options: BannerFormOptions = {}): Html {
  const action = options.action ?? '/logout';
  const field = options.csrfField ?? 'csrf';
  const expiresAt = options.expiresAt === undefined ? undefined : new Date(options.expiresAt).toISOString();
  const attributes: Array<[string, string | undefined]> = [
    ['subject', view.subject],
    ['actor', view.actor],
    ['actor-profile', view.actorProfile],
    ['via', view.via],
    ['expires-at', expiresAt],
    ['action', action],
    ['csrf-field', options.csrfToken === undefined ? undefined : field],
    ['csrf-token', options.csrfToken],
  ];
  const attrs = attributes.filter((entry): entry is [string, string] => entry[1] !== undefined).map(([name, value]) => html` ${name}="${value}"`);
  const hidden = options.csrfToken === undefined ? '' : html`<input type="hidden" name="${field}" value="${options.csrfToken}">`;
  const form = html`<form method="post" action="${action}" role="alert" aria-label="Impersonation in progress">Viewing as <strong>${view.subject}</strong> — ${actingWords(view.actorProfile)} <strong>${view.actor}</strong> ${hidden}<button type="submit">End impersonation</button></form>`;
  return html`<${IMPERSONATION_BANNER_TAG}${attrs}>${form}</${IMPERSONATION_BANNER_TAG}>`;
}
