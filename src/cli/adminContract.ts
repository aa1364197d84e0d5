/**
 * The JSON a node answers to the membership admin endpoints (`GET /admin/ring`,
 * `POST /admin/join|leave|remove`, `GET /admin/transfers`), as the CLI reads it. Unknown
 * fields are ignored, so a node may add some; a missing or mistyped field is reported.
 */
import { z } from 'zod';

const count = z.number().int().nonnegative();
const changeKind = z.enum(['join', 'leave', 'remove']);

export const planSchema = z.object({
  kind: changeKind,
  member: z.string(),
  /** The ring version the plan applies at (dry run) or was applied as. */
  ringVersion: count,
  transfers: z.array(z.object({ partition: count, from: z.string(), to: z.string(), done: z.boolean() })),
  transfersDone: count,
  transfersTotal: count,
  estimate: z.object({ objects: count, bytes: count }),
  ownedBefore: z.record(count),
  ownedAfter: z.record(count),
});
export type Plan = z.infer<typeof planSchema>;

export const memberStatusSchema = z.enum(['joining', 'valid', 'leaving', 'down', 'removed']);

export const ringSchema = z.object({
  clusterName: z.string(),
  replicas: count,
  partitionCount: count,
  ringVersion: count,
  members: z.array(
    z.object({ id: z.string(), address: z.string(), status: memberStatusSchema, version: count, partitions: count }),
  ),
  owners: z.array(z.string()),
  plan: planSchema.nullable(),
});
export type RingView = z.infer<typeof ringSchema>;

export const changeAnswerSchema = z.object({ applied: z.boolean(), plan: planSchema });
export type ChangeAnswer = z.infer<typeof changeAnswerSchema>;

const rates = { objectsSent: count, bytesSent: count, objectsPerS: z.number().nonnegative(), bytesPerS: z.number().nonnegative() };

export const transfersSchema = z.object({
  plan: z
    .object({ kind: changeKind, member: z.string(), ringVersion: count, transfersDone: count, transfersTotal: count })
    .nullable(),
  ...rates,
  nodes: z.record(z.union([z.object({ ...rates, active: count }), z.object({ error: z.string() })])),
});
export type TransfersView = z.infer<typeof transfersSchema>;

/** What a node answers with a 4xx or 5xx. */
export const errorBodySchema = z.object({ error: z.string(), code: z.string().optional() });

/** The 409 codes of the membership endpoints. */
export type RefusalCode =
  | 'transfers-pending'
  | 'already-member'
  | 'unknown-member'
  | 'not-valid'
  | 'too-few-members'
  | 'live-member'
  | 'plan-changed'
  | 'cluster-mismatch'
  | 'not-a-member';
