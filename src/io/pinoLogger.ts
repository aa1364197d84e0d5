/**
 * The Logger port over pino: structured JSON lines, by default to stdout.
 */
import { destination as pinoDestination, pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../ports/logger.ts';

export type LogLevel = Level | 'silent';

export interface PinoLoggerOptions {
  readonly level: LogLevel;
  /** Fields on every line (e.g. the node id). */
  readonly base?: Record<string, unknown>;
  /** Where lines go; stdout (synchronously) when omitted. */
  readonly destination?: DestinationStream;
}

/** A Logger that also exposes flush(), for the last lines before exit. */
export interface FlushableLogger extends Logger {
  flush(): void;
}

export function createPinoLogger(options: PinoLoggerOptions): FlushableLogger {
  const destination = options.destination ?? pinoDestination({ dest: 1, sync: true });
  const logger = pino({ level: options.level, base: { pid: process.pid, ...options.base } }, destination);
  return new PinoLoggerAdapter(logger);
}

class PinoLoggerAdapter implements FlushableLogger {
  constructor(private readonly pinoLogger: PinoLogger) {}

  debug(fields: object, message: string): void {
    this.pinoLogger.debug(fields, message);
  }

  info(fields: object, message: string): void {
    this.pinoLogger.info(fields, message);
  }

  warn(fields: object, message: string): void {
    this.pinoLogger.warn(fields, message);
  }

  error(fields: object, message: string): void {
    this.pinoLogger.error(fields, message);
  }

  flush(): void {
    this.pinoLogger.flush();
  }
}
