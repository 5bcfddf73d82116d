import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { Backend } from '../store/backend.js';
import type { KeyLayout } from '../store/keys.js';

/**
 * Server-side sessions of the extension's pages, in the shared store (every instance reads them):
 * the browser holds only a random 256-bit id in an httpOnly, SameSite=Lax cookie scoped to the
 * pages' path. Tokens a page obtained stay here, never in the browser.
 */
export class WebSessions<T extends object> {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
    private readonly cookie: { readonly name: string; readonly path: string },
  ) {}

  async create(ctx: Context, data: T, ttlSeconds: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.backend.set(this.keys.webSession(id), JSON.stringify(data), ttlSeconds);
    ctx.cookies.set(this.cookie.name, id, { httpOnly: true, sameSite: 'lax', path: this.cookie.path, secure: ctx.secure, signed: false, overwrite: true });
    return id;
  }

  /** The session of this request, or `undefined` (no cookie, unknown, expired). */
  async read(ctx: Context): Promise<{ id: string; data: T } | undefined> {
    const id = ctx.cookies.get(this.cookie.name, { signed: false });
    if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
    const json = await this.backend.get(this.keys.webSession(id));
    return json === undefined ? undefined : { id, data: JSON.parse(json) as T };
  }

  async update(id: string, data: T, ttlSeconds: number): Promise<void> {
    await this.backend.set(this.keys.webSession(id), JSON.stringify(data), ttlSeconds);
  }

  async destroy(ctx: Context, id: string | undefined): Promise<void> {
    if (id) await this.backend.delete([this.keys.webSession(id)]);
    ctx.cookies.set(this.cookie.name, null, { path: this.cookie.path, overwrite: true });
  }
}
