/**
 * The `shoal` command line (commander). `main.ts` runs it on process.argv; tests may call
 * runCli with their own argv and output streams.
 *
 * Exit codes: 0 success, 1 runtime failure (a node that cannot start, an unreachable node),
 * 2 usage or config errors (unknown flag or command, invalid value).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { CONFIG_FILE_ENV, CONFIG_FIELDS, CONFIG_FIELD_NAMES, configSummary, envName, flagName, resolveNodeConfig } from '../node/config.ts';
import { addAdminCommands } from './adminCommands.ts';
import { addBackupCommands } from './backupCommands.ts';
import { addCertCommands } from './cert.ts';
import { runDev } from './dev.ts';
import { runStart } from './start.ts';
import { addUserCommands } from './user.ts';

export const EXIT_USAGE = 2;

const packageJson = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('shoal')
    .description('Shoal: a Dynamo-style, highly available key-value store')
    .version(packageJson.version)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  const start = program
    .command('start')
    .description('run one node in the foreground (logs JSON to stdout; SIGTERM/SIGINT flush and exit)')
    .option('--config <file>', `JSON config file with camelCase keys (env ${CONFIG_FILE_ENV})`)
    .action(runStart);
  const defaults = configSummary(resolveNodeConfig({}));
  for (const field of CONFIG_FIELD_NAMES) {
    const spec = CONFIG_FIELDS[field];
    const value = spec.kind === 'boolean' ? '[bool]' : spec.kind === 'integer' ? '<n>' : '<value>';
    const fallback = defaults[field];
    const defaultText = fallback === null || fallback === undefined ? '' : `, default ${String(fallback)}`;
    start.addOption(new Option(`${flagName(field)} ${value}`, `${spec.description} (env ${envName(field)}${defaultText})`));
  }

  addAdminCommands(program.command('admin').description("talk to a node's HTTP API"));
  addCertCommands(program.command('cert').description('make the cluster CA and the certificates it signs, for mutual TLS'));
  addUserCommands(program.command('user').description('manage a users file: who may use the client ports (HTTP, Redis), with which role'));
  addBackupCommands(program);

  program
    .command('dev')
    .argument('[nodeArgs...]', 'after --: flags passed to every node (e.g. -- --n 2 --w 1)')
    .description('run a local cluster of node processes on loopback (Ctrl-C stops them); args after -- go to every node')
    .option('--nodes <count>', 'number of nodes', '3')
    .option('--data <dir>', 'data directory (one subdirectory and one log per node)', './data')
    .option('--host <host>', 'loopback address to bind', '127.0.0.1')
    .option('--http-port <port>', 'HTTP port of the first node (the others follow)', '8080')
    .option('--listen-port <port>', 'internode port of the first node (the others follow)', '7070')
    .option('--resp-port <port>', 'Redis-protocol port of the first node (the others follow); none without it')
    .option('--secure', 'certificates in DIR/certs, TLS between the nodes and to clients, and an admin user whose password is printed')
    .action(runDev);
  return program;
}

/** Parses argv (node, script, …) and runs the command; resolves with the exit code to use. */
export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  try {
    await buildProgram().parseAsync(argv as string[]);
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    throw error;
  }
}
