/**
 * The `shoal` package: run a node in-process, or build on its parts.
 *
 *   const config = nodeConfigFrom({ http: '127.0.0.1:0', data: './data' });
 *   const runtime = await startNodeRuntime({ config, logger: createPinoLogger({ level: 'info' }) });
 *   // … runtime.httpUrl …
 *   await runtime.stop();
 */
export {
  CONFIG_FIELDS,
  ConfigError,
  configSummary,
  envName,
  flagName,
  nodeConfigFrom,
  nodeConfigSchema,
  resolveNodeConfig,
  type ConfigSources,
  type NodeConfig,
} from './node/config.ts';
export { formatHostPort, parseClusterMembers, parseHostPort, type ClusterMember, type HostPort } from './node/hostPort.ts';
export {
  OverloadedError,
  QuorumUnreachableError,
  RequestError,
  RequestTimeoutError,
  TooManySiblingsError,
  type ReplicaCounts,
  type RequestErrorCode,
} from './node/errors.ts';
export { openNode, type NodeDeps } from './node/openNode.ts';
export { readOutcome, type ReadOutcome } from './node/readOutcome.ts';
export { NodeReplica, type NodeReplicaParts, type WriteRouting } from './node/replica/nodeReplica.ts';
export type { Replica, OwnWrite, MergeOptions, BufferStats } from './ports/replica.ts';
export { resolveQuorum, type Quorum, type RequestOptions } from './node/request.ts';
export {
  ShoalNode,
  type LocalVersions,
  type NodeState,
  type NodeStatus,
  type PutInput,
  type ReadResult,
  type LocalHints,
  type WriteResult,
} from './node/shoalNode.ts';
export { actorIdOf, advanceStartEpoch } from './node/startEpoch.ts';
export { buildHttpApi, CONTEXT_HEADER, type HttpApiOptions, type TlsFiles } from './api/http.ts';
export { Authenticator, AuthenticatorBusyError, type AuthenticatorOptions } from './api/auth/authenticator.ts';
export { hashPassword, verifyPassword } from './api/auth/passwords.ts';
export { roleAllows, ROLES, type Role } from './api/auth/roles.ts';
export { loadUsersFile, UsersFileError, type UserEntry, type UsersFile } from './api/auth/usersFile.ts';
export { METRIC_NAMES, NodeMetrics } from './api/metrics.ts';
export { loadNodeConfig, readConfigFile } from './io/configFile.ts';
export { createPinoLogger, type FlushableLogger, type PinoLoggerOptions } from './io/pinoLogger.ts';
export { startNodeRuntime, type NodeRuntime, type NodeRuntimeOptions } from './io/runtime.ts';
export { installProcessLifecycle, type ProcessLifecycleOptions } from './io/signals.ts';
