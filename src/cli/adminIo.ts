/**
 * What the admin commands need from the process: output streams, whether a person is at
 * the terminal, a question to ask, a clock, and Ctrl-C. Tests pass their own.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleepPromise } from 'node:timers/promises';

export interface AdminIo {
  /** Results (stdout): plans, tables, JSON. */
  out(text: string): void;
  /** Messages, questions and progress (stderr). */
  err(text: string): void;
  /** stdin is a terminal: a question can be answered. */
  readonly stdinTty: boolean;
  /** stderr is a terminal: progress redraws one line. */
  readonly stderrTty: boolean;
  /** stderr's width in columns, when it is a terminal that knows it. */
  errColumns(): number | undefined;
  /** Asks on stderr, resolves with the line typed ('' on end of input or Ctrl-C). */
  prompt(question: string): Promise<string>;
  nowMs(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `handler` on Ctrl-C (SIGINT) instead of exiting, until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
}

export function processIo(): AdminIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    stdinTty: process.stdin.isTTY === true,
    stderrTty: process.stderr.isTTY === true,
    errColumns: () => (process.stderr.isTTY && process.stderr.columns > 0 ? process.stderr.columns : undefined),
    prompt: askLine,
    nowMs: () => Date.now(),
    sleep,
    onInterrupt: (handler) => {
      process.on('SIGINT', handler);
      return () => void process.off('SIGINT', handler);
    },
  };
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleepPromise(ms, undefined, { signal });
  } catch {
    // Aborted: the caller looks at the signal.
  }
}

function askLine(question: string): Promise<string> {
  const lines = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    let answered = false;
    const finish = (answer: string) => {
      if (answered) return;
      answered = true;
      lines.close();
      resolve(answer);
    };
    lines.on('SIGINT', () => {
      process.stderr.write('\n');
      finish('');
    });
    lines.on('close', () => finish(''));
    lines.question(question, finish);
  });
}
