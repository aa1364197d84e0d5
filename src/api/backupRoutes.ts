/**
 * The backup and restore routes (backupContract.ts says what they answer): input checked
 * here, the work done by the node's BackupService. Admin role (auth/httpGuard.ts: every
 * /admin route but /admin/cluster).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeBase64Url, encodeBase64Url } from '../core/base64url.ts';
import { decodeEntries, encodeEntries } from '../core/backup/entries.ts';
import { RequestError } from '../node/errors.ts';
import {
  BACKUP_MEDIA_TYPE,
  BACKUP_NEXT_HEADER,
  BACKUP_PAGE_OBJECTS_DEFAULT,
  BACKUP_PAGE_OBJECTS_MAX,
  BACKUP_PATH,
  RESTORE_BODY_BYTES_MAX,
  RESTORE_OBJECTS_MAX,
  RESTORE_PATH,
} from './backupContract.ts';
import { nodeErrorAnswer, NO_QUERY_SCHEMA, type HttpApiOptions } from './httpContract.ts';

const PAGE_QUERY_SCHEMA = {
  querystring: { type: 'object', properties: { after: { type: 'string' }, limit: { type: 'string' } }, additionalProperties: false },
} as const;
const DIGITS = /^\d{1,9}$/;

interface PageRequest {
  Params: { partition: string };
  Querystring: { after?: string; limit?: string };
}

export function registerBackupRoutes(app: FastifyInstance, options: HttpApiOptions): void {
  const { node, config } = options;
  app.get(`${BACKUP_PATH}/:partition`, { schema: PAGE_QUERY_SCHEMA }, async (request: FastifyRequest<PageRequest>, reply) => {
    const partition = integerOption('partition', request.params.partition, 0, config.partitionCount - 1);
    const limit = request.query.limit === undefined ? BACKUP_PAGE_OBJECTS_DEFAULT : integerOption('limit', request.query.limit, 1, BACKUP_PAGE_OBJECTS_MAX);
    const after = request.query.after === undefined ? undefined : tokenKey(request.query.after, config.keyBytesMax);
    const page = await node.backup.page(partition, after, limit);
    if (page.resumeAfter !== undefined) void reply.header(BACKUP_NEXT_HEADER, encodeBase64Url(page.resumeAfter));
    return reply.type(BACKUP_MEDIA_TYPE).send(Buffer.from(encodeEntries(page.entries)));
  });

  app.post(RESTORE_PATH, { schema: NO_QUERY_SCHEMA, bodyLimit: RESTORE_BODY_BYTES_MAX, errorHandler: restoreErrorHandler(options) }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const decoded = decodeEntries(body, { objectsMax: RESTORE_OBJECTS_MAX, keyBytesMax: config.keyBytesMax });
    if (!decoded.ok) throw new RequestError('RESTORE_INVALID', `restore body: ${decoded.reason}`);
    return reply.send(await node.backup.restore(decoded.entries));
  });
}

function integerOption(name: string, text: string, min: number, max: number): number {
  const value = DIGITS.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new RequestError('REQUEST_OPTION_INVALID', `${name} must be an integer ${min}-${max}, got ${JSON.stringify(text.slice(0, 40))}`);
  return value;
}

/** The key a page token names (the last key its page covered). */
function tokenKey(token: string, keyBytesMax: number): Uint8Array {
  const key = decodeBase64Url(token);
  if (key === undefined || key.length === 0 || key.length > keyBytesMax) {
    throw new RequestError('REQUEST_OPTION_INVALID', `after must be the token of a backup page's X-Shoal-Backup-Next header, got ${JSON.stringify(token.slice(0, 40))}`);
  }
  return key;
}

/** A restore body over its limit is named as such; every error is answered as every route answers it. */
function restoreErrorHandler(options: HttpApiOptions) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const named = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? new RequestError('RESTORE_TOO_LARGE', `a restore body may hold ${RESTORE_BODY_BYTES_MAX} bytes at most`) : error;
    const { status, body } = nodeErrorAnswer(options, request, named);
    void reply.code(status).send(body);
  };
}
