/**
 * The cluster's JetStream KV bucket, as a node uses it: opened (or made, with the TTL that
 * expires a silent node's key), and this node's key claimed with compare-and-set, so two live
 * processes never hold one name. Also how a node connects to NATS, and how NATS's refusals of
 * credentials read.
 *
 * @module
 */

import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { type NodeInfo, parseNodeInfo } from "./members.ts";
import { firstLine } from "./log.ts";
import type { ClusterSettings } from "./settings.ts";

/** How long the first connection to NATS may take before the node starts alone. */
const FIRST_CONNECT_MS = 3000;

/**
 * The main thread's NATS connection options for the cluster `s` describes: its credentials and
 * TLS, reconnecting for ever, a try at least every second (sooner with a short `node_timeout`).
 */
export function connectOptions(s: ClusterSettings): ConnectionOptions {
  return {
    servers: s.servers,
    name: `shoal ${s.name}/${s.node}`,
    user: s.user || undefined,
    pass: s.password || undefined,
    token: s.token || undefined,
    tls: s.tlsCaFile ? { caFile: s.tlsCaFile } : undefined,
    timeout: FIRST_CONNECT_MS,
    maxReconnectAttempts: -1,
    reconnectTimeWait: Math.min(1000, s.nodeTimeoutMs / 3),
    waitOnFirstConnect: false,
  };
}

/** Opens the cluster's bucket, creating it with a TTL of `ttlMs` when it does not exist. */
export async function openBucket(nc: NatsConnection, name: string, ttlMs: number): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    return await kvm.create(name, { ttl: ttlMs, history: 1 });
  } catch {
    // Made by a node with another node_timeout: use it as it is.
    return await kvm.open(name);
  }
}

/** Whether `err` is NATS refusing the node's credentials. */
export function isAuthError(err: unknown): boolean {
  const text = `${(err as Error)?.name} ${firstLine(err)} ${String((err as Error)?.cause ?? "")}`;
  return /authoriz|authentic/i.test(text);
}

/** The one line that says NATS refused the credentials, and what to check. */
export function authText(err: unknown): string {
  return `NATS refused this node's credentials (${firstLine(err)}): check cluster.user, ` +
    `cluster.password and cluster.token`;
}

/**
 * Creates `key` with `info` and returns its revision. When it exists, its holder may be a
 * process that died less than a TTL ago: tries again for `timeoutMs`, then throws `taken`'s
 * error. A key this very process holds (kept through a short outage) is taken back as it is.
 * Returns null when `stopped` says to give up.
 */
export async function claimKey(
  kv: KV,
  key: string,
  info: NodeInfo,
  o: { timeoutMs: number; stopped: () => boolean; taken: (holder: NodeInfo | null) => Error },
): Promise<number | null> {
  const value = new TextEncoder().encode(JSON.stringify(info));
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    try {
      return await kv.create(key, value);
    } catch (err) {
      const held = await kv.get(key).catch(() => null);
      const holder = held?.value.length ? parseNodeInfo(held.string()) : null;
      if (held && held.operation === "PUT" && holder?.instance === info.instance) {
        return held.revision;
      }
      if (!/wrong last sequence/i.test(String((err as Error).message)) && held === null) throw err;
      if (Date.now() > deadline) throw o.taken(holder);
      if (o.stopped()) return null;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
