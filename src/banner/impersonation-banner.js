// @ts-check
/**
 * `<impersonation-banner>`: the notice a relying party shows while its ID token carries `act`
 * (RFC 8693 §4.1) — "Viewing as alice — signed in by support" with an "End impersonation" button.
 *
 * A framework-free custom element, shipped as this plain ES module (no build step): serve the file
 * and load it with `<script type="module" src="…/impersonation-banner.js">`. It works under a strict
 * Content-Security-Policy (`script-src 'self'; style-src 'self'`): its styles are a constructed
 * stylesheet adopted by its shadow root, and it writes text only through `textContent`.
 *
 * Attributes (all text, all optional but `subject` and `actor`):
 * - `subject`     the user whose identity is taken on (`sub` of the ID token)
 * - `actor`       the person really signed in (the innermost `act.sub`: the human of the chain)
 * - `actor-profile` that actor's kind (`act.sub_profile`): `ai_agent` and `service` are worded as acting
 * - `via`         the outermost actor when it differs from `actor` (a service in between)
 * - `expires-at`  ISO 8601 time the impersonation ends, shown as a local clock time
 * - `action`      where "End impersonation" POSTs (default `/logout`: the app's RP-initiated logout)
 * - `csrf-field`, `csrf-token`   a hidden form field sent with that POST (default field `csrf`)
 *
 * The banner is fixed at the top of the viewport and reserves its own height in the page flow,
 * exposed as the custom property `--impersonation-banner-height` on the element. Before the
 * button submits, it dispatches a cancelable `impersonation-banner-end` event.
 */

const TAG = 'impersonation-banner';

const CSS = `
:host {
  display: block;
  block-size: var(--impersonation-banner-height, 3.25rem);
}
:host([hidden]) { display: none; }
.bar {
  position: fixed;
  inset-block-start: 0;
  inset-inline: 0;
  z-index: 2147483647;
  box-sizing: border-box;
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1rem;
  padding: 0.55rem 1rem 0.75rem;
  background-color: #ffc400;
  color: #161616;
  font: 500 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif;
  letter-spacing: normal;
  text-align: start;
  box-shadow: 0 2px 10px rgb(0 0 0 / 0.25);
  animation: enter 180ms ease-out;
}
.bar::after {
  content: "";
  position: absolute;
  inset-inline: 0;
  inset-block-end: 0;
  block-size: 5px;
  background-image: repeating-linear-gradient(-45deg, #161616 0 8px, #ffc400 8px 16px);
}
.badge {
  display: inline-flex;
  align-items: center;
  gap: 0.4rem;
  padding: 0.15rem 0.6rem 0.15rem 0.5rem;
  border-radius: 999px;
  background-color: #161616;
  color: #ffffff;
  font-size: 12px;
  font-weight: 700;
  letter-spacing: 0.06em;
  text-transform: uppercase;
  white-space: nowrap;
}
.dot {
  inline-size: 8px;
  block-size: 8px;
  border-radius: 50%;
  background-color: #ff5a36;
  animation: pulse 1.6s ease-in-out infinite;
}
.text { margin: 0; flex: 1 1 18rem; min-inline-size: 0; overflow-wrap: anywhere; }
.text strong { font-weight: 750; }
.meta { color: #161616; font-weight: 500; }
form { margin: 0; }
button {
  appearance: none;
  margin: 0;
  border: 2px solid #161616;
  border-radius: 6px;
  padding: 0.35rem 0.9rem;
  background-color: #161616;
  color: #ffffff;
  font: inherit;
  font-weight: 650;
  cursor: pointer;
  white-space: nowrap;
}
button:hover { background-color: #3a3a3a; border-color: #3a3a3a; }
button:focus-visible { outline: 3px solid #161616; outline-offset: 3px; background-color: #3a3a3a; }
@keyframes enter { from { transform: translateY(-100%); } to { transform: none; } }
@keyframes pulse { 0%, 100% { opacity: 1; } 50% { opacity: 0.35; } }
@media (prefers-reduced-motion: reduce) {
  .bar, .dot { animation: none; }
}
@media (forced-colors: active) {
  .bar { border-block-end: 3px solid CanvasText; }
  .bar::after { display: none; }
  .badge, button { border: 1px solid ButtonText; }
}
@media print {
  .bar { position: static; box-shadow: none; }
}
`;

/** @type {CSSStyleSheet | undefined} */
let sheet;

/** One constructed stylesheet shared by every banner (not subject to a `style-src` CSP: no inline style). */
function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

/**
 * Where "End impersonation" posts: a URL of the page's own scheme family (http or https), else the
 * default `/logout` — a `javascript:` or `data:` action would never be what a host meant.
 * @param {string | null} value
 * @returns {string}
 */
function safeAction(value) {
  if (!value) return '/logout';
  try {
    const url = new URL(value, document.baseURI);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '/logout';
  } catch {
    return '/logout';
  }
}

/**
 * `HH:MM` in the viewer's locale, or '' for a value that is not a time.
 * @param {string | null} value
 * @returns {string}
 */
function clockTime(value) {
  if (!value) return '';
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return '';
  return time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attributes]
 * @param {Array<Node | string>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

export class ImpersonationBannerElement extends HTMLElement {
  static get observedAttributes() {
    return ['subject', 'actor', 'actor-profile', 'via', 'expires-at', 'action', 'csrf-field', 'csrf-token'];
  }

  /** @type {ShadowRoot} */
  #root;
  /** @type {ResizeObserver | undefined} */
  #resize;
  #mounted = false;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.adoptedStyleSheets = [styles()];
  }

  connectedCallback() {
    this.#mounted = true;
    this.#render();
  }

  disconnectedCallback() {
    this.#mounted = false;
    this.#resize?.disconnect();
  }

  attributeChangedCallback() {
    if (this.#mounted) this.#render();
  }

  /**
   * Keeps `--impersonation-banner-height` equal to the bar's height, so the space the element holds
   * in the page flow matches the fixed bar even when it wraps on a narrow screen.
   * @param {Element} bar
   */
  #follow(bar) {
    if (typeof ResizeObserver !== 'function') return;
    this.#resize ??= new ResizeObserver((entries) => {
      const height = entries[0]?.borderBoxSize?.[0]?.blockSize ?? entries[0]?.contentRect.height;
      if (height) this.style.setProperty('--impersonation-banner-height', `${Math.ceil(height)}px`);
    });
    this.#resize.disconnect();
    this.#resize.observe(bar);
  }

  #render() {
    const subject = this.getAttribute('subject') || 'another user';
    const actor = this.getAttribute('actor') || 'an unknown actor';
    const via = this.getAttribute('via');
    const until = clockTime(this.getAttribute('expires-at'));

    const profile = this.getAttribute('actor-profile');
    // Worded as actingWords() in index.ts: a person signs in; an AI agent or a service acts.
    const acting = profile === 'ai_agent' ? 'an AI assistant acts:' : profile === 'service' ? 'a service acts:' : 'signed in by';
    const text = h('p', { class: 'text', part: 'text' }, ['Viewing as ', h('strong', {}, [subject]), ` — ${acting} `, h('strong', {}, [actor])]);
    if (via && via !== actor) text.append(h('span', { class: 'meta' }, [` (via ${via})`]));
    if (until) text.append(h('span', { class: 'meta' }, [` · until ${until}`]));

    const form = h('form', { method: 'post', action: safeAction(this.getAttribute('action')) });
    const token = this.getAttribute('csrf-token');
    if (token) form.append(h('input', { type: 'hidden', name: this.getAttribute('csrf-field') || 'csrf', value: token }));
    form.append(h('button', { type: 'submit', part: 'button' }, ['End impersonation']));
    form.addEventListener('submit', (event) => {
      const proceed = this.dispatchEvent(new CustomEvent('impersonation-banner-end', { bubbles: true, composed: true, cancelable: true }));
      if (!proceed) event.preventDefault();
    });

    const badge = h('span', { class: 'badge', 'aria-hidden': 'true' }, [h('span', { class: 'dot' }), 'Impersonating']);
    const bar = h('div', { class: 'bar', part: 'bar', role: 'alert', 'aria-label': 'Impersonation in progress' }, [badge, text, form]);
    this.#root.replaceChildren(bar);
    this.#follow(bar);
  }
}

if (!customElements.get(TAG)) customElements.define(TAG, ImpersonationBannerElement);
