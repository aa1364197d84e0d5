/** `shoal backup` and `shoal restore` (commander): options in, exit code out (backup.ts, restore.ts). */
import type { Command } from 'commander';
import { BACKUP_PAGE_OBJECTS_DEFAULT, BACKUP_PAGE_OBJECTS_MAX } from '../api/backupContract.ts';
import { DEFAULT_NODE_URL } from './admin.ts';
import { exit, withAccess } from './adminCommands.ts';
import { processIo } from './adminIo.ts';
import { runBackup, type BackupOptions } from './backup.ts';
import { runRestore, type RestoreOptions } from './restore.ts';

const NODE_HELP = "the node's HTTP address (http:// or https://)";

const BACKUP_HELP = `
Every version of every object (tombstones too), partition by partition, each page read from
every reachable owner of the partition and merged. The file is checksummed and compressed
(see the README's "Backup and restore"). Interrupted (Ctrl-C, a node gone), it keeps its
complete blocks: run the same command with --resume to go on.

Exit codes: 0 done, 1 the node refused or could not be reached, 2 usage or a file that cannot
be resumed, 130 Ctrl-C.`;

const RESTORE_HELP = `
Checks the whole file first (nothing is sent from a truncated, corrupted or foreign file),
then merges every object into the owners of its partition: a merge never supersedes a newer
version, so nothing written since the backup is lost. Progress is kept in FILE.restore-progress;
--resume skips the blocks already acknowledged.

Exit codes: 0 done, 1 the node refused or could not be reached (or the backup is older than
the cluster's markerRetentionMs without --allow-old), 2 usage or a file that is not an intact
backup, 130 Ctrl-C.`;

export function addBackupCommands(program: Command): void {
  withAccess(
    program
      .command('backup')
      .description('write every object of the cluster to one file')
      .option('--node <url>', NODE_HELP, DEFAULT_NODE_URL)
      .requiredOption('--out <file>', 'the backup file to write (not overwritten)')
      .option('--resume', 'go on with an interrupted backup file from its last complete block')
      .option('--page-objects <n>', `objects per page asked of the node (1-${BACKUP_PAGE_OBJECTS_MAX})`, String(BACKUP_PAGE_OBJECTS_DEFAULT)),
  )
    .addHelpText('after', BACKUP_HELP)
    .action(async (options: BackupOptions) => exit(await runBackup(options, processIo())));

  withAccess(
    program
      .command('restore')
      .description("merge a backup file's objects back into the cluster")
      .option('--node <url>', NODE_HELP, DEFAULT_NODE_URL)
      .requiredOption('--in <file>', 'the backup file to read')
      .option('--resume', 'skip the blocks an interrupted restore of this file had acknowledged')
      .option('--allow-old', "restore a backup older than the cluster's markerRetentionMs (deleted keys may come back)"),
  )
    .addHelpText('after', RESTORE_HELP)
    .action(async (options: RestoreOptions) => exit(await runRestore(options, processIo())));
}
