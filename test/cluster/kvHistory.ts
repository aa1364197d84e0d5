/**
 * A client's honest history of its writes to a Shoal cluster over HTTP, and the check of
 * a final read of every key against it.
 *
 * Writes to one key never overlap (a key being written is skipped by the background
 * writers), and each carries the context of the key's last acknowledged write, so it
 * supersedes exactly that version. Per key the history keeps:
 * - the last acknowledged value (a 204);
 * - every value whose write was not acknowledged (a 503, a timeout, a reset connection):
 *   such a write may have been applied anyway, or later (README: a 503 is not a rollback).
 *
 * A final read is right when it holds only values the history allows: with no
 * unacknowledged write, exactly the last acknowledged value (a 200); otherwise any
 * non-empty mix of it and the unacknowledged values (siblings are then expected: an
 * unacknowledged write and the next one were made from the same context), where the
 * acknowledged value may be missing only if an unacknowledged write made after it could
 * have superseded it.
 */
import type { Random } from '../../src/ports/random.ts';
import { http } from '../support/shoalProcess.ts';

export interface KeyRecord {
  /** Writes issued to this key so far (numbers each write's value). */
  issued: number;
  /** The last acknowledged value and the number of its write. */
  acked: { value: string; seq: number } | undefined;
  /** The context the last acknowledged write answered with. */
  context: string | undefined;
  /** Writes not acknowledged. */
  readonly uncertain: { value: string; seq: number }[];
  busy: boolean;
  /** Every write as `value via URL at epoch-ms: outcome`, for failure messages. */
  readonly log: string[];
}

export interface Verdict {
  readonly failures: string[];
  /** The keys read back wrong. */
  readonly failedKeys: string[];
  readonly summary: string;
}

export interface BackgroundWriter {
  /** Stops, waits for the writes in flight, and resolves with how many writes were made. */
  stop(): Promise<number>;
}

export function keyNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `key-${String(i).padStart(5, '0')}`);
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export class KvHistory {
  private readonly records = new Map<string, KeyRecord>();
  /** Outcomes of every write: HTTP status, or `error`. */
  private readonly outcomes = new Map<string, number>();
  /** Writes answered with something other than 204 or 503 (a bug to report). */
  readonly unexpected: string[] = [];
  private readonly writers = new Set<BackgroundWriter>();

  /** One write per key, through the nodes in turn. */
  async writeAll(keys: readonly string[], urls: readonly string[], concurrency: number): Promise<void> {
    await inPool(keys, concurrency, async (key, i) => {
      await this.write(key, urls[i % urls.length] as string);
    });
  }

  /** Writes each key again (with the context of its last acknowledged write). */
  overwrite(keys: readonly string[], urls: readonly string[], concurrency: number): Promise<void> {
    return this.writeAll(keys, urls, concurrency);
  }

  /** `count` distinct keys picked by `random`. */
  sample(keys: readonly string[], count: number, random: Random): string[] {
    const pool = [...keys];
    const picked: string[] = [];
    while (picked.length < count && pool.length > 0) picked.push(pool.splice(random.int(pool.length), 1)[0] as string);
    return picked;
  }

  /**
   * `loops` writers overwriting random keys through random nodes of `urls()`, each pausing
   * `pauseMs` after every write, until stopped.
   */
  writeInBackground(urls: () => readonly string[], keys: readonly string[], random: Random, { loops = 2, pauseMs = 50 } = {}): BackgroundWriter {
    let stopped = false;
    let writes = 0;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        const key = keys[random.int(keys.length)] as string;
        if (this.record(key).busy) continue;
        const targets = urls();
        await this.write(key, targets[random.int(targets.length)] as string);
        writes++;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    };
    const running = Promise.all(Array.from({ length: loops }, loop));
    const writer: BackgroundWriter = {
      stop: async () => {
        stopped = true;
        await running;
        this.writers.delete(writer);
        return writes;
      },
    };
    this.writers.add(writer);
    return writer;
  }

  /** Stops every background writer still running (for t.after, when a test failed). */
  async stopBackground(): Promise<void> {
    await Promise.all([...this.writers].map((writer) => writer.stop()));
  }

  /** One write, recorded as acknowledged (204: resolves true) or uncertain (anything else). */
  async write(key: string, url: string): Promise<boolean> {
    const record = this.record(key);
    assert(!record.busy, `two writes to ${key} at once`);
    record.busy = true;
    const seq = ++record.issued;
    const value = `${key}@${seq}`;
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (record.context !== undefined) headers['x-shoal-context'] = record.context;
    try {
      const answer = await http(`${url}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value, headers });
      this.count(String(answer.status));
      record.log.push(`${value} via ${url} at ${Date.now()}: ${answer.status}`);
      const context = answer.headers.get('x-shoal-context');
      if (answer.status === 204 && context !== null) {
        record.acked = { value, seq };
        record.context = context;
        return true;
      }
      if (answer.status !== 503) this.unexpected.push(`PUT ${key} via ${url}: ${answer.status} ${answer.text}`);
      record.uncertain.push({ value, seq });
      return false;
    } catch (error) {
      this.count('error');
      record.log.push(`${value} via ${url} at ${Date.now()}: ${String(error)}`);
      record.uncertain.push({ value, seq });
      return false;
    } finally {
      record.busy = false;
    }
  }

  /** Reads every key written, through the nodes in turn, and checks each against the history. */
  async verify(urls: readonly string[], concurrency: number): Promise<Verdict> {
    const failures: string[] = [];
    const failedKeys: string[] = [];
    let siblings = 0;
    let missingAllowed = 0;
    const keys = [...this.records.keys()];
    await inPool(keys, concurrency, async (key, i) => {
      const url = urls[i % urls.length] as string;
      let read: ReadResult;
      try {
        read = await readKey(url, key);
      } catch (error) {
        failures.push(`${key} via ${url}: ${String(error)}`);
        failedKeys.push(key);
        return;
      }
      const problem = judgeRead(this.records.get(key) as KeyRecord, read);
      if (problem !== undefined) {
        failures.push(`${key} via ${url}: ${problem}`);
        failedKeys.push(key);
      }
      if (read.values.length > 1) siblings++;
      if (read.status === 404) missingAllowed++;
    });
    const uncertainKeys = [...this.records.values()].filter((r) => r.uncertain.length > 0).length;
    return { failures, failedKeys, summary: `${keys.length} keys, ${uncertainKeys} with unacknowledged writes, ${siblings} read with siblings, ${missingAllowed} absent; ${this.describe()}` };
  }

  /** The key's history, for a failure message. */
  historyOf(key: string): string {
    const record = this.records.get(key);
    if (record === undefined) return 'never written';
    return `acknowledged ${JSON.stringify(record.acked?.value ?? null)}, unacknowledged ${JSON.stringify(record.uncertain.map((u) => u.value))}; writes: ${record.log.join(', ')}`;
  }

  /** Counts of write outcomes, for the test's diagnostics. */
  describe(): string {
    return `writes: ${[...this.outcomes].map(([outcome, n]) => `${n}×${outcome}`).join(', ')}`;
  }

  private record(key: string): KeyRecord {
    let record = this.records.get(key);
    if (record === undefined) {
      record = { issued: 0, acked: undefined, context: undefined, uncertain: [], busy: false, log: [] };
      this.records.set(key, record);
    }
    return record;
  }

  private count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
}

/** What a GET answered: its status, the live values (one for 200, the siblings for 300), and tombstones. */
export interface ReadResult {
  readonly status: number;
  readonly values: readonly string[];
  readonly deleted: number;
}

/** Why `read` is not a read the key's history allows (see the file comment), or undefined when it is. */
export function judgeRead(record: Pick<KeyRecord, 'acked' | 'uncertain'>, read: ReadResult): string | undefined {
  const seen = `${read.status} ${JSON.stringify(read.values)}`;
  if (read.deleted > 0) return `${seen}: ${read.deleted} tombstones, but nothing was ever deleted`;
  const acked = record.acked;
  if (record.uncertain.length === 0) {
    if (acked === undefined) return `${seen}: no write at all in the history`;
    return read.status === 200 && read.values.length === 1 && read.values[0] === acked.value ? undefined : `${seen}, expected 200 ${JSON.stringify(acked.value)}`;
  }
  const allowed = new Set([...(acked === undefined ? [] : [acked.value]), ...record.uncertain.map((u) => u.value)]);
  const expectation = `expected ${JSON.stringify(acked?.value ?? null)}, or with/instead of it unacknowledged ${JSON.stringify(record.uncertain.map((u) => u.value))}`;
  if (![200, 300, 404].includes(read.status)) return `${seen}, ${expectation}`;
  const foreign = read.values.filter((v) => !allowed.has(v));
  if (foreign.length > 0) return `${seen}: ${JSON.stringify(foreign)} never written or superseded; ${expectation}`;
  if (acked === undefined) return undefined;
  // Only an unacknowledged write made after the acknowledged one carried a context covering it.
  const couldSupersede = record.uncertain.some((u) => u.seq > acked.seq);
  if (!read.values.includes(acked.value) && !couldSupersede) return `${seen}: the acknowledged value is lost; ${expectation}`;
  if (read.values.length === 0) return `${seen}: absent; ${expectation}`;
  return undefined;
}

/** A GET of `key`. */
async function readKey(url: string, key: string): Promise<ReadResult> {
  const answer = await http(`${url}/kv/${encodeURIComponent(key)}`);
  switch (answer.status) {
    case 200:
      return { status: 200, values: [answer.text], deleted: 0 };
    case 300: {
      const body = JSON.parse(answer.text) as { siblings: { value: string; deleted: boolean }[] };
      const live = body.siblings.filter((s) => !s.deleted);
      return { status: 300, values: live.map((s) => Buffer.from(s.value, 'base64').toString('utf8')), deleted: body.siblings.length - live.length };
    }
    case 404:
      return { status: 404, values: [], deleted: 0 };
    default:
      return { status: answer.status, values: [`(${answer.text})`], deleted: 0 };
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
