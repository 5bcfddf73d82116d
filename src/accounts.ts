/**
 * What the grant needs to know about an account, read live at every exchange (docs/policy.md): roles and
 * state are never trusted from old token claims. `name` and `email` are for display only (the
 * admin console), never for a decision.
 */
export interface DirectoryAccount {
  readonly id: string;
  readonly tenant?: string | undefined;
  readonly roles: readonly string[];
  readonly disabled?: boolean | undefined;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  /**
   * The kind of entity the account is (draft-mora-oauth-entity-profiles §3.1): absent means
   * `user`, a person. Named in `act.sub_profile` when the account acts for someone.
   */
  readonly profile?: string | undefined;
}

/**
 * The injected account source. `findAccount` resolves `undefined` for an unknown id.
 * `searchAccounts` (optional) lets the admin console find users by id, name or email (docs/admin-console.md).
 */
export interface AccountDirectory {
  findAccount(id: string): Promise<DirectoryAccount | undefined>;
  searchAccounts?(query: string, limit: number): Promise<readonly DirectoryAccount[]>;
}
