/**
 * The INFO text: Redis's sections and field names where tools read them (`redis_version`,
 * `loading`, `connected_clients`, `role`, `cluster_enabled`…), then a `# Shoal` section
 * with the node, its cluster and the conflict counters.
 */
import { arch, platform, release } from 'node:os';
import type { CommandContext, RespNodeStatus } from './types.ts';

/** The Redis version tools are told: the command set is a subset of 7.0's, over RESP2 only. */
export const REDIS_VERSION_CLAIMED = '7.0.0';

type SectionName = 'server' | 'clients' | 'memory' | 'persistence' | 'stats' | 'replication' | 'commandstats' | 'errorstats' | 'cluster' | 'keyspace' | 'shoal';
type Fields = readonly (readonly [string, string | number])[];

const SECTIONS: readonly SectionName[] = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'commandstats', 'errorstats', 'cluster', 'keyspace', 'shoal'];
/** INFO without an argument leaves out the per-command counters, as Redis does. */
const DEFAULT_SECTIONS = SECTIONS.filter((section) => section !== 'commandstats');
const TITLES: Readonly<Record<SectionName, string>> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  persistence: 'Persistence',
  stats: 'Stats',
  replication: 'Replication',
  commandstats: 'Commandstats',
  errorstats: 'Errorstats',
  cluster: 'Cluster',
  keyspace: 'Keyspace',
  shoal: 'Shoal',
};

/** The sections asked for (none: the default set; `all`/`everything`: every one; unknown names: nothing). */
export function infoSections(names: readonly string[]): SectionName[] {
  if (names.length === 0) return [...DEFAULT_SECTIONS];
  const wanted = new Set<SectionName>();
  for (const raw of names) {
    const name = raw.toLowerCase();
    if (name === 'all' || name === 'everything') return [...SECTIONS];
    if (name === 'default') for (const section of DEFAULT_SECTIONS) wanted.add(section);
    if ((SECTIONS as readonly string[]).includes(name)) wanted.add(name as SectionName);
  }
  return SECTIONS.filter((section) => wanted.has(section));
}

export function infoText(sections: readonly SectionName[], context: CommandContext): string {
  const status = context.node.status();
  const blocks = sections.map((section) => {
    const lines = fieldsOf(section, context, status).map(([name, value]) => `${name}:${value}`);
    return [`# ${TITLES[section]}`, ...lines].join('\r\n');
  });
  return blocks.length === 0 ? '' : `${blocks.join('\r\n\r\n')}\r\n`;
}

function fieldsOf(section: SectionName, context: CommandContext, status: RespNodeStatus): Fields {
  const { stats, limits } = context;
  switch (section) {
    case 'server': {
      const uptimeS = Math.floor(status.uptimeMs / 1000);
      return [
        ['redis_version', REDIS_VERSION_CLAIMED],
        ['redis_mode', 'standalone'],
        ['server_name', 'shoal'],
        ['os', `${platform()} ${release()} ${arch()}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', context.tcpPort()],
        ['uptime_in_seconds', uptimeS],
        ['uptime_in_days', Math.floor(uptimeS / 86_400)],
      ];
    }
    case 'clients':
      return [['connected_clients', stats.connectionsOpen], ['maxclients', limits.connectionsMax]];
    case 'memory': {
      const memory = process.memoryUsage();
      return [['used_memory', memory.heapUsed], ['used_memory_rss', memory.rss]];
    }
    case 'persistence':
      return [['loading', 0]];
    case 'stats':
      return [
        ['total_connections_received', stats.connectionsAccepted],
        ['total_commands_processed', stats.commandsProcessed],
        ['rejected_connections', stats.connectionsRejected],
        ['shoal_idle_connections_closed', stats.connectionsIdleClosed],
        ['total_error_replies', [...stats.errorReplies.values()].reduce((sum, count) => sum + count, 0)],
        ['unknown_commands', stats.unknownCommands],
        ['protocol_errors', stats.protocolErrors],
      ];
    case 'replication':
      return [['role', 'master'], ['connected_slaves', 0]];
    case 'commandstats':
      return stats.commands.filter((command) => command.calls > 0).map((command) => [`cmdstat_${command.name}`, `calls=${command.calls}`]);
    case 'errorstats':
      return [...stats.errorReplies].map(([code, count]) => [`errorstat_${code}`, `count=${count}`]);
    case 'cluster':
      return [['cluster_enabled', 0]];
    case 'keyspace':
      return [];
    case 'shoal':
      return shoalFields(context, status);
  }
}

function shoalFields({ stats }: CommandContext, status: RespNodeStatus): Fields {
  const { cluster } = status;
  return [
    ['shoal_node_id', status.nodeId],
    ['shoal_cluster_name', status.clusterName],
    ['shoal_state', status.state],
    ['shoal_actor', status.actor],
    ['shoal_member_status', cluster.memberStatus],
    ['shoal_members', cluster.members.join(',')],
    ['shoal_member_count', cluster.members.length],
    ['shoal_ring_version', cluster.ringVersion],
    ['shoal_n', cluster.n],
    ['shoal_r', cluster.r],
    ['shoal_w', cluster.w],
    ['shoal_conflicted_reads', stats.conflictedReads],
    ['shoal_cache_policy', status.cache.policy],
    ['shoal_cache_objects', status.cache.objects],
    ['shoal_cache_bytes', status.cache.bytes],
    ['shoal_cache_bytes_max', status.cache.bytesMax],
    ['shoal_cache_objects_max', status.cache.objectsMax],
    ['shoal_cache_hits', status.cache.hits],
    ['shoal_cache_misses', status.cache.misses],
    ['shoal_cache_evictions', status.cache.evictions],
    ['shoal_cache_admitted', status.cache.admitted],
    ['shoal_cache_rejected', status.cache.rejected],
    ['shoal_get_winner', 'latest-time-then-dot'],
    ['shoal_set_supersedes', 'versions-seen-by-coordinator'],
  ];
}
