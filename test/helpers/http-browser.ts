/**
 * A browser for HTTP-level tests: one cookie jar (per host), redirects followed by hand, and the
 * provider's pages answered as a person would — the login form (when credentials are given), the
 * consent form, and the auto-submitting forms oidc-provider renders (e.g. the logout it posts when
 * a sign-in replaces another account's session). No JavaScript runs; forms are submitted as the
 * page's own `<form>` describes them.
 */
export interface Stop {
  readonly url: URL;
  readonly status: number;
  readonly html: string;
}

export class HttpBrowser {
  readonly #jar = new Map<string, Map<string, string>>();

  /** The cookie names this browser holds for `origin` (to prove what was, or was not, set). */
  cookies(origin: string): string[] {
    return [...(this.#jar.get(new URL(origin).host)?.keys() ?? [])];
  }

  #cookieHeader(url: URL): string {
    return [...(this.#jar.get(url.host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  #remember(url: URL, response: Response): void {
    let jar = this.#jar.get(url.host);
    if (!jar) this.#jar.set(url.host, (jar = new Map()));
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  }

  /** One request with this browser's cookies; no redirect followed. */
  async request(url: URL | string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const response = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        cookie: this.#cookieHeader(target),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...init.headers,
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.#remember(target, response);
    return response;
  }

  /**
   * Follows a navigation from `url` until a redirect goes to a URL `until` accepts (answered
   * without fetching it), or a page is reached that needs a person (returned as it is).
   */
  async navigate(url: URL | string, options: { until: (url: URL) => boolean; login?: { login: string; password: string }; consent?: boolean }): Promise<Stop> {
    let next = new URL(url);
    let init: { method?: string; form?: Record<string, string> } = {};
    for (let hop = 0; hop < 20; hop += 1) {
      if (options.until(next)) return { url: next, status: 0, html: '' };
      const response = await this.request(next, init);
      const location = response.headers.get('location');
      if (location && response.status >= 300 && response.status < 400) {
        next = new URL(location, next);
        init = {};
        continue;
      }
      const html = await response.text();
      const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
      const fields = Object.fromEntries([...(form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, decodeEntities(m[2]!)]));
      const action = form ? new URL(decodeEntities(form[1]!), next) : undefined;
      if (response.status === 200 && action && /<title>Submitting Callback<\/title>/.test(html)) {
        next = action;
        init = { form: fields };
        continue;
      }
      if (response.status === 200 && action && /name="password"/.test(html) && options.login && init.method !== 'POST') {
        next = action;
        init = { method: 'POST', form: { ...fields, login: options.login.login, password: options.login.password } };
        continue;
      }
      if (response.status === 200 && action && action.pathname.endsWith('/confirm') && options.consent) {
        next = action;
        init = { method: 'POST', form: fields };
        continue;
      }
      return { url: next, status: response.status, html };
    }
    throw new Error('navigation did not settle within 20 hops');
  }
}

function decodeEntities(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]!);
}
