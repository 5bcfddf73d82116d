import { fileURLToPath } from 'node:url';
import { actorChain, readAct, type ActClaim } from '../exchange/act.js';
import { escapeHtml } from '../web/html.js';

/** The custom element's tag name. */
export const IMPERSONATION_BANNER_TAG = 'impersonation-banner';

/**
 * Absolute path of the element's ES module (`impersonation-banner.js`, beside this file): serve it
 * as a static file with `Content-Type: text/javascript` and load it with `<script type="module">`.
 * The same file is the package's `./banner/element` export, for apps that bundle.
 */
export const bannerElementFile: string = fileURLToPath(new URL('./impersonation-banner.js', import.meta.url));

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

/**
 * Reads the `act` claim of verified ID token claims (RFC 8693 §4.1: the current actor outermost,
 * prior actors nested) and returns what the banner renders, or `undefined` when the token carries
 * no `act`. An `act` that is present but malformed still yields a banner (with an unknown actor):
 * a notice of impersonation is never hidden because its details cannot be read.
 */
export function impersonationBanner(claims: Readonly<Record<string, unknown>>): ImpersonationBannerView | undefined {
  if (claims.act === undefined || claims.act === null) return undefined;
  const chain = actorChain(readAct(claims.act));
  const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : 'another user';
  const human = chain.at(-1)?.sub ?? 'an unknown actor';
  const profile = chain.at(-1)?.sub_profile;
  const current = chain[0]?.sub;
  const impersonation = claims.impersonation;
  const id = typeof impersonation === 'object' && impersonation !== null ? (impersonation as { id?: unknown }).id : undefined;
  return {
    subject,
    actor: human,
    ...(current !== undefined && chain.length > 1 ? { via: current } : {}),
    ...(profile !== undefined ? { actorProfile: profile } : {}),
    chain,
    ...(typeof id === 'string' ? { impersonationId: id } : {}),
  };
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
 * The `<impersonation-banner>` markup for a view, every value escaped. Its light DOM is a plain
 * fallback (the same text and form) that shows if the element's script does not run; once the
 * element upgrades, its shadow root replaces it.
 */
export function renderImpersonationBanner(view: ImpersonationBannerView, options: BannerFormOptions = {}): string {
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
  const attrs = attributes
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join('');
  const hidden = options.csrfToken === undefined ? '' : `<input type="hidden" name="${escapeHtml(field)}" value="${escapeHtml(options.csrfToken)}">`;
  return (
    `<${IMPERSONATION_BANNER_TAG}${attrs}>` +
    `<form method="post" action="${escapeHtml(action)}" role="alert" aria-label="Impersonation in progress">` +
    `Viewing as <strong>${escapeHtml(view.subject)}</strong> — ${actingWords(view.actorProfile)} <strong>${escapeHtml(view.actor)}</strong> ` +
    `${hidden}<button type="submit">End impersonation</button></form>` +
    `</${IMPERSONATION_BANNER_TAG}>`
  );
}
