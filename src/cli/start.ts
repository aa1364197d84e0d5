/**
 * `shoal start`: one node in the foreground. JSON logs go to stdout; the first line with
 * `"msg":"serving"` carries the bound HTTP address (`http`), the bound Redis-protocol
 * address with `--resp` (`resp`) and, in a cluster of two or more (`--cluster`), the bound
 * internode address (`listen`). SIGTERM/SIGINT flush the buffer, close storage and exit 0.
 * A bad config exits 2 with its reason on stderr, also when it shows only at start (a TLS
 * file that cannot be read, a certificate naming another node, a users file that does not
 * parse).
 */
import { ConfigError, type NodeConfig } from '../node/config.ts';
import { loadNodeConfig } from '../io/configFile.ts';
import { createPinoLogger } from '../io/pinoLogger.ts';
import { startNodeRuntime, type NodeRuntime } from '../io/runtime.ts';
import { TransportOptionError } from '../io/tcpTransport.ts';
import { installProcessLifecycle } from '../io/signals.ts';

export const EXIT_CONFIG = 2;

export async function runStart(options: Record<string, unknown>): Promise<void> {
  const { config: configPath, ...flags } = options;
  const config = loadConfigOrExit(flags, typeof configPath === 'string' ? configPath : undefined);
  if (config === undefined) return;
  const logger = createPinoLogger({ level: config.logLevel, base: { node: config.id } });
  const starting = startNodeRuntime({ config, logger });
  installProcessLifecycle({
    logger,
    shutdown: async () => {
      const runtime = await starting.catch(() => undefined);
      await runtime?.stop();
    },
    exit: (code) => {
      logger.flush();
      process.exit(code);
    },
  });
  let runtime: NodeRuntime;
  try {
    runtime = await starting;
  } catch (error) {
    logger.error({ err: error }, 'node failed to start');
    logger.flush();
    // A file the config names that cannot be used (tls files, users file): a config error.
    const badConfig = error instanceof ConfigError || error instanceof TransportOptionError;
    if (badConfig) process.stderr.write(`${error.message}\n`);
    process.exit(badConfig ? EXIT_CONFIG : 1);
  }
  const cluster = runtime.node.status().cluster;
  logger.info(
    { http: runtime.httpUrl, resp: runtime.respAddress ?? null, listen: runtime.listenAddress ?? null, nodeId: config.id, data: config.data, members: cluster.members, n: cluster.n, r: cluster.r, w: cluster.w },
    'serving',
  );
}

function loadConfigOrExit(flags: Record<string, unknown>, configPath: string | undefined): NodeConfig | undefined {
  try {
    return loadNodeConfig(flags, configPath);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = EXIT_CONFIG;
    return undefined;
  }
}
