/**
 * The live dashboard's routes (registered by http.ts with one call):
 *
 *   GET /                   the page (HTML)
 *   GET /dashboard/:file    its script and stylesheet, and uPlot's (assets.ts)
 *   GET /admin/dashboard    the JSON the page polls every second (feed.ts: computed at most
 *                           twice a second, however many viewers ask)
 *
 * All three need the `read` role (auth/httpGuard.ts): they show what `/metrics` already
 * shows to `read` — member health, hints, buffer, transfers, latencies — and no key or value.
 * No query parameters are taken: any is a 400 JSON error, as on the other routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NO_QUERY_SCHEMA, type HttpApiOptions } from '../httpContract.ts';
import { loadDashboardAssets, type Asset } from './assets.ts';
import { DashboardFeed } from './feed.ts';

export const DASHBOARD_JSON_PATH = '/admin/dashboard';

/**
 * The page loads its own files only, from this node, and talks to this node only. The
 * favicon is an inline empty one (no request for /favicon.ico).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface FileParams {
  file: string;
}

export function registerDashboardRoutes(app: FastifyInstance, options: HttpApiOptions): DashboardFeed {
  const assets = loadDashboardAssets();
  const feed = new DashboardFeed({ node: options.node, history: options.metrics.requestHistory, logger: options.logger });

  app.get('/', { schema: NO_QUERY_SCHEMA }, async (request, reply) => sendAsset(request, reply.header('content-security-policy', CONTENT_SECURITY_POLICY), assets.page));

  app.get('/dashboard/:file', { schema: NO_QUERY_SCHEMA }, async (request: FastifyRequest<{ Params: FileParams }>, reply) => {
    const file = assets.files.get(request.params.file);
    if (file === undefined) return reply.code(404).send({ error: `no dashboard file ${JSON.stringify(request.params.file.slice(0, 100))}` });
    return sendAsset(request, reply, file);
  });

  app.get(DASHBOARD_JSON_PATH, { schema: NO_QUERY_SCHEMA }, async (_request, reply) =>
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(feed.current()),
  );
  return feed;
}

/** The file, or 304 when the client's copy is current; browsers revalidate on each load (no-cache). */
function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply.header('etag', asset.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
}
