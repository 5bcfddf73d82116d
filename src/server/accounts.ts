import type { Account, FindAccount } from 'oidc-provider';
import type { AccountDirectory, DirectoryAccount } from '../accounts.js';
import { verifyPassword } from './passwords.js';

/** A demo account as the fixture file holds it (password stored only as a scrypt hash). */
export interface FixtureAccount extends DirectoryAccount {
  readonly name: string;
  readonly email: string;
  readonly passwordHash: string;
}

/**
 * The reference server's account store: the directory the grant reads roles from, the provider's
 * `findAccount`, and password checks for the login page. State changes (disable, roles) apply at
 * once, which is what the live-roles rules of docs/policy.md are tested against.
 */
export class FixtureAccounts implements AccountDirectory {
  readonly #accounts = new Map<string, FixtureAccount>();
  readonly #listeners: Array<(id: string) => Promise<unknown>> = [];

  constructor(accounts: readonly FixtureAccount[]) {
    for (const account of accounts) this.#accounts.set(account.id, account);
  }

  async findAccount(id: string): Promise<DirectoryAccount | undefined> {
    const account = this.#accounts.get(id);
    return account && FixtureAccounts.#directoryView(account);
  }

  /** docs/admin-console.md user search: id, name or email containing the query (case-insensitive), in id order. */
  async searchAccounts(query: string, limit: number): Promise<DirectoryAccount[]> {
    const q = query.trim().toLowerCase();
    return [...this.#accounts.values()]
      .filter((a) => !q || [a.id, a.name, a.email].some((field) => field.toLowerCase().includes(q)))
      .sort((a, b) => a.id.localeCompare(b.id))
      .slice(0, limit)
      .map((a) => FixtureAccounts.#directoryView(a));
  }

  static #directoryView(account: FixtureAccount): DirectoryAccount {
    return { id: account.id, tenant: account.tenant, roles: [...account.roles], disabled: account.disabled ?? false, name: account.name, email: account.email, ...(account.profile ? { profile: account.profile } : {}) };
  }

  /** The account whose login and password match, unless it is disabled. */
  async authenticate(login: string, password: string): Promise<string | undefined> {
    const account = this.#accounts.get(login);
    if (!account || account.disabled) return undefined;
    return (await verifyPassword(password, account.passwordHash)) ? account.id : undefined;
  }

  /** Calls `listener` after every change to an account (the cascade of docs/introspection-revocation.md hooks in here). */
  onChange(listener: (id: string) => Promise<unknown>): void {
    this.#listeners.push(listener);
  }

  /** Replaces fields of an account (demo and tests: disable, change roles); resolves once listeners ran. */
  async update(id: string, change: Partial<Pick<FixtureAccount, 'disabled' | 'roles' | 'tenant'>>): Promise<void> {
    const account = this.#accounts.get(id);
    if (!account) throw new Error(`no account ${id}`);
    this.#accounts.set(id, { ...account, ...change });
    await Promise.all(this.#listeners.map((listener) => listener(id)));
  }

  /** Removes an account (demo and tests: an actor deleted after signing in). */
  async remove(id: string): Promise<void> {
    this.#accounts.delete(id);
    await Promise.all(this.#listeners.map((listener) => listener(id)));
  }

  list(): DirectoryAccount[] {
    return [...this.#accounts.values()].map(({ id, tenant, roles, disabled }) => ({ id, tenant, roles, disabled }));
  }

  /** oidc-provider's `findAccount`: standard claims for the scopes granted. */
  readonly oidcFindAccount: FindAccount = async (_ctx, sub) => {
    const account = this.#accounts.get(sub);
    if (!account || account.disabled) return undefined;
    return {
      accountId: account.id,
      async claims() {
        return { sub: account.id, name: account.name, email: account.email, email_verified: true, tenant: account.tenant };
      },
    } as Account;
  };
}
