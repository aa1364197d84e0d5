/**
 * `shoal admin join | leave | remove`: change the cluster's membership, in four steps.
 *
 * 1. Ask the node for the plan (`dryRun: true`): nothing changes, the plan is printed.
 * 2. Confirm: `--yes`, or `y` at the `Apply this plan? [y/N]` question on a terminal;
 *    without a terminal and without `--yes` nothing is applied (exit 2).
 * 3. Apply it (`dryRun: false`) with `expectRingVersion` set to the plan's ring version,
 *    so that a ring that moved in between is refused (`plan-changed`) rather than
 *    changed by a plan nobody has seen.
 * 4. Unless `--no-wait`, show the transfers' progress until the change settles
 *    (adminWait.ts).
 *
 * Join is sent to the new node (it contacts `--seed`), leave to the leaving node, remove
 * to any member. Exit codes: 0 applied (and settled when waiting), 1 refused / failed /
 * declined / wait timed out, 2 usage, 130 Ctrl-C while waiting (the change goes on).
 */
import { NAME_PATTERN, parseHostPort } from '../node/hostPort.ts';
import { EXIT_FAILURE, EXIT_OK, failure, lines, parseNodeTarget, usageError, type Checked, type NodeOptions } from './admin.ts';
import { changeAnswerSchema, type ChangeAnswer } from './adminContract.ts';
import { adminRequest, describeFailure, type AdminAccess, type AdminAnswer, type AdminFailure } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { PLAIN_LINE_INTERVAL_MS, POLL_INTERVAL_MS, waitForChange } from './adminWait.ts';
import { formatPlan } from './planFormat.ts';

/** The default of `--wait-timeout`: an hour, ample for a rebalance of a few GiB per node. */
export const WAIT_TIMEOUT_S_DEFAULT = 3600;

export interface ChangeOptions extends NodeOptions {
  readonly yes?: boolean;
  /** False with `--no-wait`. */
  readonly wait?: boolean;
  /** Seconds, as typed. */
  readonly waitTimeout?: string;
}

export interface JoinOptions extends ChangeOptions {
  readonly seed?: string;
}

export interface RemoveOptions extends ChangeOptions {
  readonly force?: boolean;
}

export interface WaitTiming {
  readonly pollIntervalMs: number;
  readonly plainLineIntervalMs: number;
}

export const DEFAULT_TIMING: WaitTiming = { pollIntervalMs: POLL_INTERVAL_MS, plainLineIntervalMs: PLAIN_LINE_INTERVAL_MS };

interface ChangeRequest {
  readonly base: URL;
  readonly access: AdminAccess;
  readonly url: URL;
  /** The body without dryRun and expectRingVersion. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly yes: boolean;
  readonly wait: boolean;
  readonly timeoutMs: number;
}

/** `shoal admin join --node URL --seed HOST:PORT`: the node at URL joins the seed's cluster. */
export async function runAdminJoin(options: JoinOptions, io: AdminIo, timing = DEFAULT_TIMING): Promise<number> {
  const seed = parseSeed(options.seed);
  if (!seed.ok) return usageError(io, seed.message);
  const request = changeRequest('/admin/join', { seed: seed.value }, options);
  return request.ok ? runChange(io, request.value, timing) : usageError(io, request.message);
}

/** `shoal admin leave --node URL`: the node at URL hands its partitions over and leaves. */
export async function runAdminLeave(options: ChangeOptions, io: AdminIo, timing = DEFAULT_TIMING): Promise<number> {
  const request = changeRequest('/admin/leave', {}, options);
  return request.ok ? runChange(io, request.value, timing) : usageError(io, request.message);
}

/** `shoal admin remove ID --node URL [--force]`: a dead member's partitions go to the others. */
export async function runAdminRemove(id: string | undefined, options: RemoveOptions, io: AdminIo, timing = DEFAULT_TIMING): Promise<number> {
  const member = parseMemberId(id);
  if (!member.ok) return usageError(io, member.message);
  const request = changeRequest('/admin/remove', { id: member.value, force: options.force === true }, options);
  return request.ok ? runChange(io, request.value, timing) : usageError(io, request.message);
}

function changeRequest(path: string, body: Record<string, unknown>, options: ChangeOptions): Checked<ChangeRequest> {
  const target = parseNodeTarget(options);
  if (!target.ok) return target;
  const timeoutS = parseWaitTimeout(options.waitTimeout);
  if (!timeoutS.ok) return timeoutS;
  const request = {
    base: target.value.base,
    access: target.value.access,
    url: new URL(path, target.value.base),
    body,
    yes: options.yes === true,
    wait: options.wait !== false,
    timeoutMs: timeoutS.value * 1000,
  };
  return { ok: true, value: request };
}

async function runChange(io: AdminIo, request: ChangeRequest, timing: WaitTiming): Promise<number> {
  const dryRun = await post(request, { dryRun: true });
  if (dryRun.kind !== 'ok') return refused(io, request, dryRun);
  const plan = dryRun.value.plan;
  io.out(lines(formatPlan(plan)));
  const confirmed = await confirm(io, request.yes);
  if (confirmed !== EXIT_OK) return confirmed;
  const apply = await post(request, { dryRun: false, expectRingVersion: plan.ringVersion });
  if (apply.kind !== 'ok') return applyFailed(io, request, apply);
  if (!apply.value.applied) return failure(io, `error: ${request.base.origin} answered without applying the plan`);
  const applied = apply.value.plan;
  io.out(`applied: ${applied.kind} ${applied.member} at ring version ${applied.ringVersion}\n`);
  if (!request.wait) {
    io.err(`not waiting (--no-wait): follow it with \`shoal admin ring --node ${request.base.origin}\`\n`);
    return EXIT_OK;
  }
  return waitForChange(io, { base: request.base, access: request.access, plan: applied, timeoutMs: request.timeoutMs, ...timing });
}

function post(request: ChangeRequest, flags: { dryRun: boolean; expectRingVersion?: number }): Promise<AdminAnswer<ChangeAnswer>> {
  return adminRequest(request.url, changeAnswerSchema, { method: 'POST', access: request.access, body: { ...request.body, ...flags } });
}

/** EXIT_OK to apply; otherwise the exit code (1 declined, 2 nobody to ask and no --yes). */
async function confirm(io: AdminIo, yes: boolean): Promise<number> {
  if (yes) return EXIT_OK;
  if (!io.stdinTty) {
    return usageError(io, 'not applied: stdin is not a terminal, so nobody can confirm; add --yes to apply this plan');
  }
  const answer = await io.prompt('Apply this plan? [y/N] ');
  if (/^y(es)?$/i.test(answer.trim())) return EXIT_OK;
  io.err('not applied\n');
  return EXIT_FAILURE;
}

function refused(io: AdminIo, request: ChangeRequest, answer: AdminFailure): number {
  const hint = answer.kind === 'refused' ? refusalHint(answer.code, request) : undefined;
  return failure(io, hint === undefined ? describeFailure(request.url, answer) : `${describeFailure(request.url, answer)}\nhint: ${hint}`);
}

/** After an unanswered apply nobody knows whether it was applied: say how to find out. */
function applyFailed(io: AdminIo, request: ChangeRequest, answer: AdminFailure): number {
  if (answer.kind !== 'unreachable') return refused(io, request, answer);
  const check = `the plan may or may not have been applied: check with \`shoal admin ring --node ${request.base.origin}\``;
  return failure(io, `${describeFailure(request.url, answer)}\n${check}`);
}

function refusalHint(code: string | undefined, request: ChangeRequest): string | undefined {
  const ring = `\`shoal admin ring --node ${request.base.origin}\``;
  switch (code) {
    case 'plan-changed':
      return 'the ring changed after the plan was shown; run the command again to see the new plan';
    case 'transfers-pending':
      return `another change is still moving partitions; follow it with ${ring} and try again once it has settled`;
    case 'live-member':
      return `the member still answers: \`shoal admin leave\` on it hands its data over first; --force removes it anyway`;
    default:
      return undefined;
  }
}

function parseSeed(text: string | undefined): Checked<string> {
  if (text === undefined) return { ok: false, message: '--seed HOST:PORT is required (the internode address of a member)' };
  const parsed = parseHostPort(text);
  if (!parsed.ok) return { ok: false, message: `--seed must be HOST:PORT (${parsed.reason}), got ${JSON.stringify(text)}` };
  if (parsed.value.port === 0) return { ok: false, message: `--seed needs a port other than 0, got ${JSON.stringify(text)}` };
  return { ok: true, value: text };
}

function parseMemberId(text: string | undefined): Checked<string> {
  if (text === undefined || text === '') return { ok: false, message: 'remove needs the ID of the member to remove' };
  if (!NAME_PATTERN.test(text)) return { ok: false, message: `ID must be 1-64 letters, digits, _ or -, got ${JSON.stringify(text)}` };
  return { ok: true, value: text };
}

function parseWaitTimeout(text: string | undefined): Checked<number> {
  if (text === undefined) return { ok: true, value: WAIT_TIMEOUT_S_DEFAULT };
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds > 0)) return { ok: false, message: `--wait-timeout must be a number of seconds > 0, got ${JSON.stringify(text)}` };
  return { ok: true, value: seconds };
}
