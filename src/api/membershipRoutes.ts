/**
 * The membership part of the HTTP API:
 *
 *   GET  /admin/ring        the member table, the serving ring, the change in progress
 *   GET  /admin/cluster     the cluster state as gossip carries it, with this node's r, w and
 *                           limits: what a partition-aware client routes by (clusterSnapshot.ts)
 *   GET  /admin/transfers   transfer progress across the cluster (every member asked)
 *   POST /admin/join        {seed: "HOST:PORT", dryRun, expectRingVersion?}  (sent to the NEW node)
 *   POST /admin/leave       {dryRun, expectRingVersion?}                   (sent to the leaving node)
 *   POST /admin/remove      {id, force, dryRun, expectRingVersion?}        (sent to any member)
 *
 * A change answers 200 `{applied, plan}`: with dryRun the plan only, else the plan as
 * applied. Refusals are 409 `{error, code}` (503 when the seed or peers cannot be
 * reached); a malformed body is 400 and changes nothing.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ChangeOutcome } from '../node/membership/membershipService.ts';
import { parseHostPort } from '../node/hostPort.ts';
import type { ShoalNode } from '../node/shoalNode.ts';
import { NO_QUERY_SCHEMA } from './httpContract.ts';

const expectRingVersion = z.number().int().nonnegative().optional();
const dryRun = z.boolean({ required_error: 'dryRun (true to see the plan, false to apply it) is required' });
const joinBody = z.object({ seed: z.string().min(1), dryRun, expectRingVersion }).strict();
const leaveBody = z.object({ dryRun, expectRingVersion }).strict();
const removeBody = z.object({ id: z.string().min(1).max(64), force: z.boolean().default(false), dryRun, expectRingVersion }).strict();

export function registerMembershipRoutes(app: FastifyInstance, node: ShoalNode): void {
  app.get('/admin/ring', { schema: NO_QUERY_SCHEMA }, async (_request, reply) => reply.send(node.membership.ring()));

  app.get('/admin/cluster', { schema: NO_QUERY_SCHEMA }, async (_request, reply) => reply.send(node.clusterSnapshot()));

  app.get('/admin/transfers', { schema: NO_QUERY_SCHEMA }, async (_request, reply) => reply.send(await node.membership.transfers()));

  app.post('/admin/join', { schema: NO_QUERY_SCHEMA }, async (request, reply) => {
    const body = parseBody(request, reply, joinBody);
    if (body === undefined) return reply;
    const seed = parseHostPort(body.seed);
    if (!seed.ok || seed.value.port === 0) {
      const reason = seed.ok ? 'port 0 is not an address' : seed.reason;
      return reply.code(400).send({ error: `seed must be HOST:PORT (the seed's internode address): ${reason}` });
    }
    return sendOutcome(reply, await node.membership.join(seed.value, body.dryRun, body.expectRingVersion));
  });

  app.post('/admin/leave', { schema: NO_QUERY_SCHEMA }, async (request, reply) => {
    const body = parseBody(request, reply, leaveBody);
    if (body === undefined) return reply;
    return sendOutcome(reply, await node.membership.leave(body.dryRun, body.expectRingVersion));
  });

  app.post('/admin/remove', { schema: NO_QUERY_SCHEMA }, async (request, reply) => {
    const body = parseBody(request, reply, removeBody);
    if (body === undefined) return reply;
    return sendOutcome(reply, await node.membership.remove(body.id, body.force, body.dryRun, body.expectRingVersion));
  });
}

/** The body as JSON checked against `schema`; undefined after answering 400. */
function parseBody<T>(request: FastifyRequest, reply: FastifyReply, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T | undefined {
  const raw = request.body;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : '');
  } catch {
    void reply.code(400).send({ error: 'the body must be a JSON object' });
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue === undefined ? 'body' : issue.path.join('.') || 'body';
  void reply.code(400).send({ error: `invalid ${field}: ${issue?.message ?? 'malformed'}` });
  return undefined;
}

function sendOutcome(reply: FastifyReply, outcome: ChangeOutcome): FastifyReply {
  if (outcome.ok) return reply.send({ applied: outcome.applied, plan: outcome.plan });
  return reply.code(outcome.code === 'unreachable' ? 503 : 409).send({ error: outcome.reason, code: outcome.code });
}
