/**
 * Counters of the Redis front end, shared by the INFO command and the Prometheus metrics
 * (which read them when scraped). Plain numbers: the hot path adds one, nothing else.
 */

/** Calls of one command; its table entry holds it, so counting is one increment. */
export class CommandCounter {
  calls = 0;
  constructor(readonly name: string) {}
}

export class RespStats {
  readonly commands: CommandCounter[] = [];
  /** Connections open now. */
  connectionsOpen = 0;
  connectionsAccepted = 0;
  /** Connections refused because connectionsMax were open. */
  connectionsRejected = 0;
  /** Connections closed after idleMsMax with nothing to answer. */
  connectionsIdleClosed = 0;
  /** Commands that are not in the table. */
  unknownCommands = 0;
  /** Connections closed for a protocol error. */
  protocolErrors = 0;
  /** GET/MGET keys that met several siblings and were answered with the deterministic winner. */
  conflictedReads = 0;
  /** Error replies by their code (the first word: ERR, TRYAGAIN, BUSY, NOPROTO). */
  readonly errorReplies = new Map<string, number>();

  /** The counter for the command `name` (lower-case), listed in `commands` (one per name: the plain and the TLS port share them). */
  counter(name: string): CommandCounter {
    const existing = this.commands.find((counter) => counter.name === name);
    if (existing !== undefined) return existing;
    const counter = new CommandCounter(name);
    this.commands.push(counter);
    return counter;
  }

  countError(code: string): void {
    this.errorReplies.set(code, (this.errorReplies.get(code) ?? 0) + 1);
  }

  /** Every command call, unknown ones included. */
  get commandsProcessed(): number {
    let total = this.unknownCommands;
    for (const command of this.commands) total += command.calls;
    return total;
  }
}
