/**
 * A node's background work (hinted handoff, the prober, gossip, partition transfers and
 * drops, admission control, anti-entropy): started together when the node opens, stopped
 * together, in the reverse order, when it stops.
 */
export interface BackgroundTask {
  start(): void;
  stop(): void;
}

export class BackgroundTasks {
  constructor(private readonly tasks: readonly BackgroundTask[]) {}

  start(): void {
    for (const task of this.tasks) task.start();
  }

  stop(): void {
    for (const task of [...this.tasks].reverse()) task.stop();
  }
}
