/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A tagged template that escapes every interpolated value unless it is already {@link Html}. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | undefined | null | false | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) return '';
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** `html\`<p>${untrusted}</p>\`` — interpolations are escaped; nested `html` fragments are not. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < parts.length ? render(parts[i] as Part) : ''), ''));
}

/** What {@link layout} frames: the page, and the header bar around it. */
export interface LayoutOptions {
  readonly title: string;
  /** Product name in the header bar. */
  readonly product: string;
  /** Where the stylesheet (and optional script) are served. */
  readonly assetsPath: string;
  readonly script?: boolean;
  /** The signed-in user shown in the header, with a sign-out form. */
  readonly user?: { readonly name: string; readonly signOutAction: string; readonly csrf: string } | undefined;
  readonly nav?: ReadonlyArray<{ readonly href: string; readonly label: string; readonly current?: boolean }>;
  readonly body: Html;
}

/** The page frame shared by the extension's pages: no inline script or style (strict CSP). */
export function layout(options: LayoutOptions): Html {
  const { user, nav = [] } = options;
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · ${options.product}</title>
<link rel="stylesheet" href="${options.assetsPath}/app.css">
${options.script ? html`<script type="module" src="${options.assetsPath}/app.js"></script>` : ''}
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="topbar"><div class="topbar-inner">
<span class="brand">${options.product}</span>
${nav.length ? html`<nav aria-label="Main"><ul>${nav.map((item) => html`<li><a href="${item.href}"${item.current ? html` aria-current="page"` : ''}>${item.label}</a></li>`)}</ul></nav>` : ''}
${user ? html`<form class="signout" method="post" action="${user.signOutAction}"><span class="who">${user.name}</span><input type="hidden" name="csrf" value="${user.csrf}"><button type="submit" class="button subtle">Sign out</button></form>` : ''}
</div></header>
<main id="main" tabindex="-1">${options.body}</main>
</body></html>`;
}
