/**
 * The backup and restore routes as the node serves them (backupRoutes.ts) and the CLI uses
 * them (cli/backup.ts, cli/restore.ts):
 *
 *   GET  /admin/backup/:partition?after=TOKEN&limit=L
 *        200 application/octet-stream: a page of the partition's objects, merged from every
 *        reachable owner (core/backup/entries.ts encoding), in key order; the header
 *        X-Shoal-Backup-Next carries the token of the next page, absent after the last.
 *        400 for a partition, token or limit that is not valid; 503 when no owner answers.
 *   POST /admin/restore   body application/octet-stream: entries in the same encoding
 *        200 {objects, partitions} once every object was merged into W owners of its
 *        partition; 400 RESTORE_INVALID (nothing written); 503 (send it again).
 *
 * A token is the last key covered, base64url: opaque to the client.
 */
export { BACKUP_PAGE_OBJECTS_MAX } from '../node/backup/backupService.ts';

export const BACKUP_PATH = '/admin/backup';
export const RESTORE_PATH = '/admin/restore';
/** The token of the next page; absent once the partition is complete. */
export const BACKUP_NEXT_HEADER = 'x-shoal-backup-next';
export const BACKUP_MEDIA_TYPE = 'application/octet-stream';
/** Objects of a page when the client does not say. */
export const BACKUP_PAGE_OBJECTS_DEFAULT = 1000;
/** The largest restore body a node takes. */
export const RESTORE_BODY_BYTES_MAX = 16 * 1024 * 1024;
/** The most objects in one restore body. */
export const RESTORE_OBJECTS_MAX = 16_384;
