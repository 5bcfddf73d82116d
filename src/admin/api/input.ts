import type { KoaContextWithOIDC } from 'oidc-provider';
import { z } from 'zod';
import { AUDIT_EVENT_NAMES } from '../../audit/events.js';
import { AdminError } from '../auth.js';

const MAX_BODY_BYTES = 8 * 1024;

// Each filter at most once: a repeated one (`?actor=a&actor=b`) is refused, never ignored.
export const impersonationQuery = z
  .object({ actor: z.string().min(1).optional(), subject: z.string().min(1).optional() })
  .strict()
  .refine((q) => q.actor === undefined || q.subject === undefined, { message: 'give at most one of actor or subject' });
export const revocationBody = z.union([
  z.object({ actor: z.string().min(1) }).strict(),
  z.object({ subject: z.string().min(1) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);
export const settingsBody = z.object({ enabled: z.boolean() }).strict();
const isoTime = z.iso.datetime({ offset: true }).transform((t) => new Date(t).toISOString());
export const auditQuery = z
  .object({
    actor: z.string().min(1).optional(),
    subject: z.string().min(1).optional(),
    event: z.enum(AUDIT_EVENT_NAMES).optional(),
    outcome: z.enum(['granted', 'denied', 'error']).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    cursor: z.string().regex(/^[\d-]{1,40}$/, 'not a cursor of this audit log').optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

export const ticketBody = z
  .object({
    subject: z.string().min(1).max(256),
    client_id: z.string().min(1).max(256),
    reason: z.string().max(2000).optional(),
    target_link_uri: z.url().max(2000).optional(),
    mode: z.enum(['read', 'full']).optional(),
    approval: z.string().min(1).max(64).optional(),
  })
  .strict();

export const approvalBody = z
  .object({
    subject: z.string().min(1).max(256),
    reason: z.string().max(2000).optional(),
    scope: z.string().max(2000).optional(),
    duration_seconds: z.number().int().optional(),
    mode: z.enum(['read', 'full']).optional(),
  })
  .strict();
export const approvalQuery = z.union([z.object({ subject: z.string().min(1).max(256) }).strict(), z.object({ actor: z.string().min(1).max(256) }).strict()], {
  error: 'give exactly one of subject or actor',
});

/** The request's JSON body, at most 8 KiB, or a 415 / 413 / 400 refusal. */
export async function readJson(ctx: KoaContextWithOIDC): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AdminError(415, 'invalid_request', 'send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminError(413, 'invalid_request', 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'invalid_request', 'body is not JSON');
  }
}

/** `value` as `schema` reads it, or a 400 refusal that says `what` was expected and the first issue. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new AdminError(400, 'invalid_request', `${what}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}
