/**
 * The `shoal admin …` subcommands (commander): options in, exit code out. The commands
 * themselves are in admin.ts (status, ring) and adminMembership.ts (join, leave, remove).
 */
import { Option, type Command } from 'commander';
import { DEFAULT_NODE_URL, runAdminRing, runAdminStatus } from './admin.ts';
import { processIo } from './adminIo.ts';
import { runAdminJoin, runAdminLeave, runAdminRemove, WAIT_TIMEOUT_S_DEFAULT } from './adminMembership.ts';

const NODE_HELP = "the node's HTTP address (http:// or https://)";
/** Where `--password` is read from when not given (a flag is visible to other users in ps). */
export const PASSWORD_ENV = 'SHOAL_PASSWORD';
const AFTER_CHANGE_HELP = `
Shows the plan first (a dry run: nothing changes), asks to confirm it (or --yes), applies
it only if the ring has not moved since, then shows the transfers' progress until the
change settles. Ctrl-C while waiting stops waiting, not the change.

Exit codes: 0 done, 1 refused / failed / not confirmed / wait timed out, 2 usage,
130 Ctrl-C while waiting.`;

export function addAdminCommands(admin: Command): void {
  withAccess(admin.command('status').description("print a node's status as JSON").option('--node <url>', NODE_HELP, DEFAULT_NODE_URL))
    .action(async (options: Parameters<typeof runAdminStatus>[0]) => exit(await runAdminStatus(options, processIo())));

  withAccess(
    admin
      .command('ring')
      .description('show the ring: members, partitions owned, the membership change in progress')
      .option('--node <url>', NODE_HELP, DEFAULT_NODE_URL)
      .option('--json', "print the node's JSON answer as is"),
  ).action(async (options: Parameters<typeof runAdminRing>[0]) => exit(await runAdminRing(options, processIo())));

  changeCommand(admin, 'join', 'the node at --node joins the cluster of --seed (its partitions are streamed to it)', (join) =>
    join.requiredOption('--seed <host:port>', 'internode address of any member of the cluster to join'),
  ).action(async (options: Parameters<typeof runAdminJoin>[0]) => exit(await runAdminJoin(options, processIo())));

  changeCommand(admin, 'leave', 'the node at --node hands its partitions to the others and leaves the cluster')
    .action(async (options: Parameters<typeof runAdminLeave>[0]) => exit(await runAdminLeave(options, processIo())));

  changeCommand(admin, 'remove', 'remove a dead member: the surviving replicas stream its partitions to their new owners', (remove) =>
    remove.argument('<id>', 'the id of the member to remove').option('--force', 'remove the member even though it still answers'),
  ).action(async (id: string, options: Parameters<typeof runAdminRemove>[1]) => exit(await runAdminRemove(id, options, processIo())));
}

/** A join, leave or remove command: --node, then its own arguments (`own`), then the common flags. */
function changeCommand(admin: Command, name: string, description: string, own: (command: Command) => Command = (c) => c): Command {
  const command = admin
    .command(name)
    .description(description)
    .requiredOption('--node <url>', `${NODE_HELP} (${name === 'remove' ? 'any member' : name === 'join' ? 'the new node' : 'the leaving node'})`);
  return withAccess(own(command))
    .option('--yes', 'apply the plan without asking (required without a terminal)')
    .option('--no-wait', 'return once the plan is applied, without waiting for its transfers')
    .addOption(new Option('--wait-timeout <seconds>', 'give up waiting after this long (the change goes on)').default(String(WAIT_TIMEOUT_S_DEFAULT), `${WAIT_TIMEOUT_S_DEFAULT}`))
    .addHelpText('after', AFTER_CHANGE_HELP);
}

/** --user, --password (or SHOAL_PASSWORD), --ca: for a node with users, or with a certificate of a private CA. */
export function withAccess(command: Command): Command {
  return command
    .option('--user <name>', "a user of the node's users file (HTTP Basic authorization)")
    .addOption(new Option('--password <password>', "the user's password (prefer the environment variable: a flag shows in ps)").env(PASSWORD_ENV))
    .option('--ca <file>', "PEM file of the CA that signed an https:// node's certificate");
}

export function exit(code: number): void {
  if (code !== 0) process.exitCode = code;
}
