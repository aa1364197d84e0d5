/**
 * Process lifecycle: SIGTERM/SIGINT start a clean shutdown (flush, close, exit 0); a fatal
 * error (uncaught exception, unhandled rejection) logs and shuts down with exit code 1.
 *
 * A second signal while shutting down exits at once with code 1 (Ctrl-C twice), and a
 * shutdown that takes longer than shutdownMsMax exits with code 1, so stopping never hangs.
 */
import type { Logger } from '../ports/logger.ts';

export const SHUTDOWN_MS_MAX_DEFAULT = 30_000;
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

export interface ProcessLifecycleOptions {
  readonly logger: Logger;
  /** Stops serving, flushes and closes. */
  readonly shutdown: () => Promise<void>;
  /** Called last with the exit code (process.exit in production). */
  readonly exit: (code: number) => void;
  readonly shutdownMsMax?: number;
}

type LifecycleState = 'running' | 'stopping';

/** Installs the handlers; returns a function that removes them. */
export function installProcessLifecycle(options: ProcessLifecycleOptions): () => void {
  const shutdownMsMax = options.shutdownMsMax ?? SHUTDOWN_MS_MAX_DEFAULT;
  let state: LifecycleState = 'running';

  const stop = (reason: string, exitCode: number): void => {
    if (state === 'stopping') {
      options.logger.warn({ reason }, 'second stop request while stopping: exiting now');
      options.exit(1);
      return;
    }
    state = 'stopping';
    options.logger.info({ reason }, 'stopping');
    const watchdog = setTimeout(() => {
      options.logger.error({ shutdownMsMax }, 'shutdown took too long: exiting');
      options.exit(1);
    }, shutdownMsMax);
    watchdog.unref();
    options.shutdown().then(
      () => {
        clearTimeout(watchdog);
        options.logger.info({ exitCode }, 'stopped');
        options.exit(exitCode);
      },
      (error: unknown) => {
        clearTimeout(watchdog);
        options.logger.error({ err: error }, 'shutdown failed');
        options.exit(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => stop(signal, 0);
  const onFatal = (error: unknown): void => {
    options.logger.error({ err: error }, 'fatal error');
    stop('fatal error', 1);
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  return () => {
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  };
}
