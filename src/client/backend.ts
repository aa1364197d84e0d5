/** How a coordination mode serves the client's calls (httpMode.ts, directMode.ts). */
import type { Deadline } from '../node/deadline.ts';
import type { RequestOptions } from '../node/request.ts';
import type { GetResult, WriteResult } from './results.ts';

export interface CallPlan {
  readonly key: string;
  readonly keyBytes: Uint8Array;
  readonly quorum: RequestOptions;
  readonly deadline: Deadline;
}

export interface WriteCall {
  readonly op: 'put' | 'delete';
  readonly value: Uint8Array;
  readonly contentType: string;
  /** From a previous read (absent: supersede nothing). */
  readonly context: string | undefined;
}

export interface Backend {
  get(plan: CallPlan): Promise<GetResult>;
  write(plan: CallPlan, write: WriteCall): Promise<WriteResult>;
  close(): Promise<void>;
}
