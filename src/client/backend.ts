/** How a coordination mode serves the client's calls (httpMode.ts, directMode.ts). */
import type { Deadline } from '../node/deadline.ts';
import type { RequestOptions } from '../node/request.ts';
import type { GetResult, ListPage, WriteResult } from './results.ts';

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

/** One page of a key listing. */
export interface ListCall {
  readonly prefix: string;
  /** The previous page's continuation token; undefined for the first page. */
  readonly after: string | undefined;
  readonly limit: number;
  readonly deadline: Deadline;
}

export interface Backend {
  get(plan: CallPlan): Promise<GetResult>;
  write(plan: CallPlan, write: WriteCall): Promise<WriteResult>;
  listPage(call: ListCall): Promise<ListPage>;
  close(): Promise<void>;
}
