/**
 * Text for people: a membership plan (what moves where, who owns what before and after)
 * and the ring (members and the change in progress). Pure: data in, lines out.
 */
import type { Plan, RingView } from './adminContract.ts';
import { formatBytes, formatCount, plural } from './units.ts';

const byId = new Intl.Collator('en', { numeric: true }).compare;

/** `join node4: 24 partition transfers, ~12,345 objects, ~5.2 MiB (ring version 8)`. */
export function planSummary(plan: Plan): string {
  const what = `${plan.kind} ${plan.member}`;
  const version = `(ring version ${plan.ringVersion})`;
  if (plan.transfersTotal === 0) return `${what}: no partition transfers ${version}`;
  const size = `~${plural(plan.estimate.objects, 'object')}, ~${formatBytes(plan.estimate.bytes)}`;
  return `${what}: ${plural(plan.transfersTotal, 'partition transfer')}, ${size} ${version}`;
}

/** The summary, the transfers grouped by sender and receiver, and the owned partitions per member. */
export function formatPlan(plan: Plan): string[] {
  const lines = [planSummary(plan)];
  const moves = groupMoves(plan);
  if (moves.length > 0) {
    lines.push('transfers (from → to):');
    const rows = moves.map((move) => [`${move.from} → ${move.to}`, plural(move.count, 'partition')]);
    lines.push(...indent(formatTable(rows, [false, true])));
  }
  lines.push('partitions owned (before → after):');
  lines.push(...indent(formatTable(ownedRows(plan), [false, true, false, true, false])));
  return lines;
}

export interface Move {
  readonly from: string;
  readonly to: string;
  readonly count: number;
}

/** Transfers counted per (from, to), ordered by from then to. */
export function groupMoves(plan: Pick<Plan, 'transfers'>): Move[] {
  const counts = new Map<string, Move>();
  for (const { from, to } of plan.transfers) {
    const key = JSON.stringify([from, to]);
    const move = counts.get(key);
    counts.set(key, { from, to, count: (move?.count ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => byId(a.from, b.from) || byId(a.to, b.to));
}

function ownedRows(plan: Plan): string[][] {
  const ids = [...new Set([...Object.keys(plan.ownedBefore), ...Object.keys(plan.ownedAfter)])].sort(byId);
  return ids.map((id) => {
    const before = plan.ownedBefore[id] ?? 0;
    const after = plan.ownedAfter[id] ?? 0;
    const delta = after - before;
    const change = delta === 0 ? '' : `(${delta > 0 ? '+' : ''}${delta})`;
    return [id, String(before), '→', String(after), change];
  });
}

/** `cluster shoal: N=3, Q=64, ring version 7`, the member table, and the change if any. */
export function formatRing(ring: RingView): string[] {
  const lines = [`cluster ${ring.clusterName}: N=${ring.replicas}, Q=${ring.partitionCount}, ring version ${ring.ringVersion}`];
  const members = [...ring.members].sort((a, b) => byId(a.id, b.id));
  const rows = [['member', 'status', 'address', 'partitions'], ...members.map((m) => [m.id, m.status, m.address, String(m.partitions)])];
  lines.push(...indent(formatTable(rows, [false, false, false, true])));
  lines.push(ring.plan === null ? 'no membership change' : changeLine(ring.plan));
  return lines;
}

function changeLine(plan: Plan): string {
  const state = plan.transfersDone === plan.transfersTotal ? 'settled' : 'in progress';
  const done = `${formatCount(plan.transfersDone)}/${formatCount(plan.transfersTotal)} transfers done`;
  return `change: ${plan.kind} ${plan.member} at ring version ${plan.ringVersion}, ${state}: ${done}`;
}

/** Columns padded to their widest cell, two spaces apart; `alignRight[i]` right-aligns column i. */
export function formatTable(rows: readonly (readonly string[])[], alignRight: readonly boolean[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (alignRight[i] === true ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function indent(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`);
}
