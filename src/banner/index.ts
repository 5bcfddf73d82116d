import { fileURLToPath } from 'node:url';
import { actorChain, readAct } from '../claims/act.js';
import { bannerMarkup, type BannerFormOptions, type ImpersonationBannerView } from './render.js';

export { IMPERSONATION_BANNER_TAG, actingWords, type BannerFormOptions, type ImpersonationBannerView } from './render.js';

/**
 * Absolute path of the element's ES module (`impersonation-banner.js`, beside this file): serve it
 * as a static file with `Content-Type: text/javascript` and load it with `<script type="module">`.
 * The same file is the package's `./banner/element` export, for apps that bundle.
 */
export const bannerElementFile: string = fileURLToPath(new URL('./impersonation-banner.js', import.meta.url));

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
 * The `<impersonation-banner>` markup for a view, every value escaped. Its light DOM is a plain
 * fallback (the same text and form) that shows if the element's script does not run; once the
 * element upgrades, its shadow root replaces it.
 */
export function renderImpersonationBanner(view: ImpersonationBannerView, options: BannerFormOptions = {}): string {
  return bannerMarkup(view, options).value;
}
