/**
 * Anti-entropy over the internode protocol: the ExchangePeer a node uses to reach another
 * replica (each call one request; an error reply or an unexpected one rejects, and the
 * exchange is dropped), and the handler that answers those requests from this node's trees
 * and store (exchange.ts answeringPeer).
 */
import type { Message, Reply } from '../protocol.ts';
import { ACK, errorReply } from '../protocol.ts';
import type { PeerClient } from '../peerClient.ts';
import { describeFailure } from '../peerClient.ts';
import { ExchangeRefusedError, type ExchangePeer } from './exchange.ts';

export type ExchangeMessage = Extract<Message, { type: `ae-${string}` }>;

/** The exchange requests, sent to `node` with `timeoutMs` each. */
export function remoteExchangePeer(peers: PeerClient, node: string, timeoutMs: number): ExchangePeer {
  const ask = async <T extends Reply['type']>(message: Message, expected: T): Promise<Extract<Reply, { type: T }>> => {
    const reply = await peers.request(node, message, timeoutMs);
    if (reply.type !== expected) throw new Error(`${message.type} to ${node}: ${describeFailure(reply)}`);
    return reply as Extract<Reply, { type: T }>;
  };
  return {
    root: async (partition, shape) => (await ask({ type: 'ae-root', partition, segments: shape.segments, branching: shape.branching, digestVersion: shape.digestVersion }, 'hashes')).hashes,
    roots: async (partitions, shape) => (await ask({ type: 'ae-roots', partitions, segments: shape.segments, branching: shape.branching, digestVersion: shape.digestVersion }, 'keyed-bytes')).values,
    children: async (partition, depth, parents) => (await ask({ type: 'ae-children', partition, depth, parents }, 'hashes')).hashes,
    keys: async (partition, segments) => {
      const reply = await ask({ type: 'ae-keys', partition, segments }, 'keyed-bytes');
      return { keys: reply.keys, digests: reply.values, covered: reply.covered ?? segments.length };
    },
    fetch: async (partition, keys) => (await ask({ type: 'ae-fetch', partition, keys }, 'keyed-bytes')).values,
    push: async (partition, keys, objects) => {
      await ask({ type: 'ae-push', partition, keys, objects }, 'ack');
    },
    digests: async (partition, keys) => (await ask({ type: 'ae-digests', partition, keys }, 'keyed-bytes')).values,
    reap: async (partition, keys, digests) => {
      await ask({ type: 'ae-reap', partition, keys, digests }, 'ack');
    },
  };
}

/** Answers one anti-entropy request from `answering` (this node's side of the exchange). */
export async function serveExchange(answering: ExchangePeer, message: ExchangeMessage): Promise<Reply> {
  try {
    switch (message.type) {
      case 'ae-root':
        return { type: 'hashes', hashes: await answering.root(message.partition, message) };
      case 'ae-roots': {
        const roots = await answering.roots(message.partitions, message);
        return { type: 'keyed-bytes', keys: message.partitions.map(partitionBytes), values: roots };
      }
      case 'ae-children':
        return { type: 'hashes', hashes: await answering.children(message.partition, message.depth, message.parents) };
      case 'ae-keys': {
        const found = await answering.keys(message.partition, message.segments);
        return { type: 'keyed-bytes', keys: found.keys, values: found.digests, covered: found.covered };
      }
      case 'ae-fetch': {
        const values = await answering.fetch(message.partition, message.keys);
        return { type: 'keyed-bytes', keys: message.keys.slice(0, values.length), values };
      }
      case 'ae-push':
        await answering.push(message.partition, message.keys, message.objects);
        return ACK;
      case 'ae-digests':
        return { type: 'keyed-bytes', keys: message.keys, values: await answering.digests(message.partition, message.keys) };
      case 'ae-reap':
        await answering.reap(message.partition, message.keys, message.digests);
        return ACK;
    }
  } catch (error) {
    if (error instanceof ExchangeRefusedError) return errorReply('EXCHANGE_REFUSED', error.message);
    throw error;
  }
}

/** A partition number as the key of a keyed-bytes reply (2 bytes, big-endian). */
function partitionBytes(partition: number): Uint8Array {
  return Uint8Array.of(partition >> 8, partition & 0xff);
}
