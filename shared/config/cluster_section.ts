/**
 * `[cluster]`, the same in every tracker: the NATS servers a node meets its cluster through,
 * its name in it, and the secret every node shares (connection IDs). The main thread's side
 * of it is `cluster/`; socket workers only see the connection-ID keys derived from the secret
 * here: SHA-1 over a label and the secret (the label keeps these keys apart from anything else
 * a secret might be used for), so that an ID one node issues checks on every other
 * (`udp/connection_id.ts`) and the secret itself never reaches a worker.
 *
 * @module
 */

import { bool, int, str } from "./schema.ts";
import { sha1 } from "../base/sha1.ts";

/** Whether `v` is a comma-separated list of NATS server URLs (`nats://`, `tls://`, `host:port`). */
function serverList(v: string): string | null {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.some((p) => p === "")) return "an empty server in the list";
  for (const p of parts) {
    const m =
      /^(?:(nats|tls|ws|wss):\/\/)?(?:[^@/\s]+@)?(\[[0-9a-fA-F:.]+\]|[^:/\s@\[\]]+)(?::(\d+))?$/
        .exec(p);
    if (m === null) return `"${p.replace(/\/\/[^@/]*@/, "//…@")}" is not a NATS URL`;
    if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) {
      return `port ${m[3]} is out of range`;
    }
  }
  return null;
}

/** Whether `v` may name a cluster or a node: it becomes part of NATS subjects and KV keys. */
function subjectToken(v: string): string | null {
  return v === "" || /^[A-Za-z0-9_-]{1,64}$/.test(v)
    ? null
    : "use 1–64 of A–Z a–z 0–9 _ - (it is part of NATS subject names)";
}

/** `[cluster]`. */
export function clusterSection() {
  return {
    enabled: bool(
      false,
      "Run as one node of a cluster over NATS (every node shares connection IDs; see the README).",
    ),
    servers: str(
      "nats://127.0.0.1:4222",
      "NATS servers, comma-separated: nats://host:port or tls://host:port (credentials below).",
      "nats://host:port, comma-separated",
      serverList,
    ),
    name: str(
      "shoal",
      "The cluster's name: nodes of one name share swarms; several clusters may share one NATS.",
      "1–64 of A–Z a–z 0–9 _ -",
      subjectToken,
    ),
    node: str(
      "",
      "This node's name in the cluster; empty: the host name. Two live nodes cannot share one.",
      "1–64 of A–Z a–z 0–9 _ -",
      subjectToken,
    ),
    secret: str(
      "",
      "Key of connection IDs, the same on every node; required when enabled. Never logged.",
    ),
    previous_secret: str(
      "",
      "While rolling in a new secret: the old one, still accepted (keep it max_connection_age).",
    ),
    user: str("", "NATS user name (with password), when the servers require one."),
    password: str("", "NATS password. Never logged."),
    token: str("", "NATS token, when the servers use token authentication. Never logged."),
    tls_ca_file: str(
      "",
      "PEM file of the CA that signed the NATS servers' certificates (tls:// servers); empty: the system's.",
    ),
    node_timeout: int(
      3,
      "Seconds without a heartbeat after which a node counts as gone and others take its shards.",
      1,
      60,
    ),
    max_clock_skew: int(
      5,
      "Seconds nodes' wall clocks may differ: a connection ID this far in the future is accepted.",
      0,
      300,
    ),
  };
}

/** The four words of the connection-ID key made from `secret`. */
export function connectionKeyOf(secret: string): Uint32Array {
  return derive("shoal cluster connection id v1\0", secret, 4);
}

/** The two words of the shard key (`store/cluster_shards.ts`) made from `secret`. */
export function shardKeyOf(secret: string): Uint32Array {
  return derive("shoal cluster shard v1\0", secret, 2);
}

/** `words` words of SHA-1 over `label` (a new derivation would change it) and `secret`. */
function derive(label: string, secret: string, words: number): Uint32Array {
  const digest = sha1(new TextEncoder().encode(label + secret));
  const v = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
  return new Uint32Array(Array.from({ length: words }, (_, k) => v.getUint32(4 * k, true)));
}

/** What a UDP socket worker needs of `[cluster]`: its keys and the clock skew to allow. */
export interface ClusterIds {
  /** The current secret's key. */
  key: Uint32Array;
  /** The previous secret's key, while it is rolled out; else null. */
  previousKey: Uint32Array | null;
  /** Seconds an ID may be in the future (nodes' wall clocks differ). */
  skew: number;
}

/** The connection-ID settings of `[cluster]` `c`, or null when it is off. */
export function clusterIds(
  c: { enabled: boolean; secret: string; previous_secret: string; max_clock_skew: number },
): ClusterIds | null {
  if (!c.enabled) return null;
  return {
    key: connectionKeyOf(c.secret),
    previousKey: c.previous_secret === "" ? null : connectionKeyOf(c.previous_secret),
    skew: c.max_clock_skew,
  };
}
