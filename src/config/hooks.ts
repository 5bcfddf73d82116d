import { z } from 'zod';
import type { JWTPayload } from 'jose';
import type { DirectoryAccount } from '../accounts.js';
import type { SubjectNotice } from '../notify/types.js';

/** What a policy hook learns about the exchange it may still refuse. */
export interface AuthorizeInput {
  readonly actor: DirectoryAccount | undefined;
  readonly subject: DirectoryAccount;
  readonly clientId: string;
  readonly reason: string | undefined;
  readonly scopes: readonly string[];
  readonly audience: readonly string[];
}

/** The answer of the `authorize` hook: nothing (allow) or a denial with a private detail. */
export type AuthorizeResult = void | { readonly allow: false; readonly detail?: string };

/** A hook option: any function, typed `T` for the caller. */
const hook = <T extends (...args: never[]) => unknown>() => z.custom<T>((v) => typeof v === 'function', 'must be a function');

/** TypeScript hooks for what declarative policy cannot say (docs/policy.md). */
export const hooksSchema = z
  .object({
    /** Maps a verified token identity to a local account id; `undefined` means no such account. */
    resolveSubject: hook<(input: { issuer: string; sub: string; claims: JWTPayload; ownIssuer: boolean }) => Promise<string | undefined>>().optional(),
    /** Final say after every built-in rule passed. */
    authorize: hook<(input: AuthorizeInput) => Promise<AuthorizeResult>>().optional(),
    /** Scopes the subject may hold for this client; `undefined` leaves the client's own scope as the limit. */
    scopesFor: hook<(subject: DirectoryAccount, clientId: string) => Promise<readonly string[] | undefined>>().optional(),
    /**
     * Tells the subject (your mailer, in-app messages): an impersonation of their account started,
     * or support asks for their approval (with a one-time link when the account page is mounted).
     * Called after the audit record is written; its errors are logged and never block or fail anything.
     */
    notifySubject: hook<(notice: SubjectNotice) => void | Promise<void>>().optional(),
  })
  .strict();

/** TypeScript hooks for what declarative policy cannot say (docs/policy.md). */
export type ExchangeHooks = z.output<typeof hooksSchema>;
