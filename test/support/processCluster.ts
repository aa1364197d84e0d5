/**
 * Real `shoal start` processes for multi-process tests: founding members started with one
 * `--cluster` list, nodes started alone (to join), stops (SIGTERM, checked clean) and kills,
 * restarts on the same data directory and addresses. Everything lives in one temporary
 * directory; every process is killed and the directory removed after the test.
 * SHOAL_TEST_LOG_DIR=dir keeps every node's log (all its runs) for a post-mortem.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort, runShoal, type ShoalProcess } from './shoalProcess.ts';

export interface ClusterNode {
  readonly id: string;
  /** Internode HOST:PORT. */
  readonly listen: string;
  /** HTTP base URL. */
  readonly url: string;
  readonly data: string;
  readonly args: readonly string[];
  process: ShoalProcess;
  /** The logs of its earlier runs (before restarts). */
  earlierLogs: string;
}

/** Attempts at binding fresh ports when another test's process took a free one first. */
const PORT_ATTEMPTS_MAX = 3;

export class ProcessCluster {
  readonly nodes = new Map<string, ClusterNode>();
  private readonly root: string;

  /** `commonArgs` go to every node after its addresses and data directory. */
  constructor(
    t: TestContext,
    private readonly commonArgs: readonly string[],
    name = 'cluster',
  ) {
    this.root = mkdtempSync(join(tmpdir(), `shoal-${name}-`));
    t.after(() => this.close());
  }

  /** Starts `ids` as the founding members of one cluster (each with its own extra flags). */
  async found(ids: readonly string[], extra: (id: string) => readonly string[] = () => []): Promise<void> {
    await this.withFreshPorts(async () => {
      const addresses = await Promise.all(ids.map(async (id) => ({ id, listen: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` })));
      const members = addresses.map((a) => `${a.id}@${a.listen}`).join(',');
      for (const a of addresses) this.launch(a.id, a.listen, a.http, ['--cluster', members, ...extra(a.id)]);
      await Promise.all(ids.map((id) => this.node(id).process.waitServing()));
    }, ids);
  }

  /** Starts a node alone (a cluster of one, TCP bound), ready to join. */
  async startAlone(id: string, extra: readonly string[] = []): Promise<ClusterNode> {
    await this.withFreshPorts(async () => {
      this.launch(id, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, extra);
      await this.node(id).process.waitServing();
    }, [id]);
    return this.node(id);
  }

  node(id: string): ClusterNode {
    const found = this.nodes.get(id);
    assert.ok(found, `no node ${id}`);
    return found;
  }

  urls(ids: readonly string[]): string[] {
    return ids.map((id) => this.node(id).url);
  }

  async kill(id: string): Promise<void> {
    await this.stop(id, 'SIGKILL');
  }

  /** SIGTERM (a clean stop: exit code 0 is checked) or SIGKILL. */
  async stop(id: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    node.process.child.kill(signal);
    const exit = await node.process.waitExit();
    if (signal === 'SIGTERM') assert.deepEqual(exit, { code: 0, signal: null }, `${id} stopped cleanly:\n${node.process.stderr}`);
    else assert.equal(exit.signal, 'SIGKILL');
  }

  /** Starts the node again on the same data directory and addresses, with `extra` flags added (they win). */
  async restart(id: string, extra: readonly string[] = []): Promise<ShoalProcess> {
    const node = this.node(id);
    assert.ok(!node.process.running, `${id} is still running`);
    node.earlierLogs += node.process.stdout + node.process.stderr;
    node.process = runShoal([...node.args, ...extra]);
    await node.process.waitServing();
    return node.process;
  }

  async close(): Promise<void> {
    await this.killAll([...this.nodes.keys()]);
    const logDir = process.env.SHOAL_TEST_LOG_DIR;
    if (logDir !== undefined && logDir !== '') {
      mkdirSync(logDir, { recursive: true });
      for (const node of this.nodes.values()) writeFileSync(join(logDir, `${node.id}.log`), node.earlierLogs + node.process.stdout + node.process.stderr);
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Runs `start`; when a port it picked was taken meanwhile (EADDRINUSE), kills `ids` and tries again. */
  private async withFreshPorts(start: () => Promise<void>, ids: readonly string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await start();
        return;
      } catch (error) {
        await this.killAll(ids);
        if (attempt >= PORT_ATTEMPTS_MAX || !/EADDRINUSE/.test(String(error))) throw error;
      }
    }
  }

  private async killAll(ids: readonly string[]): Promise<void> {
    const nodes = ids.map((id) => this.nodes.get(id)).filter((node): node is ClusterNode => node !== undefined);
    for (const node of nodes) if (node.process.running) node.process.child.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.process.cleanup()));
  }

  private launch(id: string, listen: string, httpAddress: string, extra: readonly string[]): void {
    const data = join(this.root, id);
    rmSync(data, { recursive: true, force: true });
    const args = ['start', '--id', id, '--listen', listen, '--http', httpAddress, '--data', data, ...this.commonArgs, ...extra];
    this.nodes.set(id, { id, listen, url: `http://${httpAddress}`, data, args, process: runShoal(args), earlierLogs: '' });
  }
}
