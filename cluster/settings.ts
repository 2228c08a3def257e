/**
 * `[cluster]` as a node runs it: checked (a one-line `OperatorError`, exit 2, for what cannot
 * work) and with its defaults filled in.
 *
 * @module
 */

import { OperatorError } from "../shared/base/errors.ts";
import { shardKeyOf } from "../shared/config/cluster_section.ts";

/** The `[cluster]` section (`shared/config/cluster_section.ts`). */
export interface ClusterSection {
  enabled: boolean;
  servers: string;
  name: string;
  node: string;
  secret: string;
  previous_secret: string;
  user: string;
  password: string;
  token: string;
  tls_ca_file: string;
  node_timeout: number;
  max_clock_skew: number;
}

/** Which swarms a cluster's nodes share: BitTorrent's (udp, http) or WebTorrent's (ws). */
export type ClusterKind = "bittorrent" | "webtorrent";

/** A node's cluster settings. */
export interface ClusterSettings {
  /** NATS server URLs. */
  servers: string[];
  /** The cluster's name. */
  name: string;
  /** This node's name. */
  node: string;
  /** Which swarms. */
  kind: ClusterKind;
  /** NATS credentials (empty: none). */
  user: string;
  password: string;
  token: string;
  /** CA file for tls:// servers (empty: the system's). */
  tlsCaFile: string;
  /** Milliseconds without a heartbeat before a node counts as gone. */
  nodeTimeoutMs: number;
  /** The key of the cluster's shards, from its secret. */
  shardKey: Uint32Array;
}

/** The least length of `secret`: connection IDs are only as strong as it. */
export const MIN_SECRET = 16;

/** Checks `c` and fills in the node name; null when clustering is off. */
export function clusterSettings(c: ClusterSection, kind: ClusterKind): ClusterSettings | null {
  if (!c.enabled) return null;
  if (c.secret === "") {
    throw new OperatorError(
      "cluster.secret is required when cluster.enabled is true (the same on every node)",
    );
  }
  for (const [k, v] of [["secret", c.secret], ["previous_secret", c.previous_secret]]) {
    if (v !== "" && v.length < MIN_SECRET) {
      throw new OperatorError(`cluster.${k} must be at least ${MIN_SECRET} characters`);
    }
  }
  if (c.user !== "" && c.token !== "") {
    throw new OperatorError(
      "cluster.user and cluster.token: give one way to authenticate, not both",
    );
  }
  const node = c.node === "" ? hostName() : c.node;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(node)) {
    throw new OperatorError(
      `cluster.node is empty and the host name "${node}" cannot name a node: set cluster.node`,
    );
  }
  return {
    servers: c.servers.split(",").map((s) => s.trim()),
    name: c.name,
    node,
    kind,
    user: c.user,
    password: c.password,
    token: c.token,
    tlsCaFile: c.tls_ca_file,
    nodeTimeoutMs: c.node_timeout * 1000,
    shardKey: shardKeyOf(c.secret),
  };
}

/**
 * A cluster that tracks privately shares keys and accounting through one database: PostgreSQL.
 * (Every node writing its own SQLite file would split both.)
 */
export function checkPrivateCluster(
  cluster: { enabled: boolean },
  priv: { enabled: boolean; database: string },
): void {
  if (cluster.enabled && priv.enabled && !/^postgres(ql)?:/.test(priv.database)) {
    throw new OperatorError(
      "private.database: a cluster's nodes share keys and accounting through one postgres:// database, not sqlite",
    );
  }
}

/** The host name, read where `--allow-read` reaches it (no `--allow-sys` needed). */
function hostName(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/hostname").trim().split(".")[0];
  } catch {
    return "";
  }
}
