/** `shoal/client`: the TypeScript client (shoalClient.ts), its options and results. */
export { createClient, ShoalClient, type CallOptions, type ClientDeps, type ClientValue, type DeleteOptions, type GetOptions, type ListOptions, type ListPageOptions, type PutOptions } from './shoalClient.ts';
export { ClientConfigError, type ClientOptions, type CoordinationMode } from './options.ts';
export { ShoalClientError, type ClientErrorCode, type ClientSibling, type GetResult, type ListPage, type Resolution, type WriteResult } from './results.ts';
