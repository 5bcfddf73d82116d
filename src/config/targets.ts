import { z } from 'zod';

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) });

/** An issuer whose tokens this provider accepts as subject or actor tokens, with its keys. */
export const trustedIssuerSchema = z
  .object({
    issuer: z.url(),
    jwks: jwksSchema.optional(),
    jwksUri: z.url().optional(),
  })
  .refine((v) => (v.jwks === undefined) !== (v.jwksUri === undefined), {
    message: 'give exactly one of jwks or jwksUri',
  });

export type TrustedIssuer = z.infer<typeof trustedIssuerSchema>;

/** A protected API the provider issues tokens for (RFC 8707 resource server). */
export const resourceServerSchema = z
  .object({
    scope: z.string(),
    accessTokenFormat: z.enum(['opaque', 'jwt']).default('opaque'),
    audience: z.string().min(1).optional(),
    /** Client ids that speak for this resource server (may present tokens addressed to it). */
    clients: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** A read-only view of a schema's output: its properties and its arrays. */
type ReadonlyOutput<T> = { readonly [K in keyof T]: T[K] extends ReadonlyArray<infer U> ? readonly U[] : T[K] };

/** A protected API the provider issues tokens for (RFC 8707 resource server), defaults filled in. */
export type ResourceServerDefinition = ReadonlyOutput<z.output<typeof resourceServerSchema>>;
