/**
 * What the grant needs to know about an account, read live at every exchange (SPEC §2): roles and
 * state are never trusted from old token claims.
 */
export interface DirectoryAccount {
  readonly id: string;
  readonly tenant?: string | undefined;
  readonly roles: readonly string[];
  readonly disabled?: boolean | undefined;
}

/** The injected account source. `findAccount` resolves `undefined` for an unknown id. */
export interface AccountDirectory {
  findAccount(id: string): Promise<DirectoryAccount | undefined>;
}
