/**
 * A request worker of a cluster node whose swarms answer connections (WebTorrent's): the socket
 * workers of other nodes that send it requests, each made a port of its own beside the local
 * links. A peer connected to another node is then a peer like any other, on a socket worker
 * numbered past this node's own, and what the swarms send it (the announce's reply, offers,
 * answers, scrape counts) is published to that worker's subject.
 *
 * Messages (after `WIRE_FORMAT` and an f64 LE time in milliseconds):
 * - to a request worker: u32 LE record count, then the records of a request batch; the reply
 *   subject names the socket worker that sent it;
 * - to a socket worker: u8 `DELIVER_BYTES` and a byte batch, or `DELIVER_CLONE` and a
 *   structured-clone batch as JSON text; the time echoes that of the last batch the socket worker
 *   sent (the round trip it measures), or is -1.
 *
 * A socket worker's subject ends in a token made when it starts: a new one on the same subject
 * otherwise is its replacement, and its predecessor is forgotten at once.
 *
 * Socket workers are forgotten, their peers with them, when silent for longer than a peer lives,
 * when the table is full and a new one arrives (the one silent longest goes), when this worker's
 * NATS link goes down, or when their node has left the cluster (`keepNodes`).
 *
 * @module
 */

import type { Port } from "./link.ts";
import { HEADER_LEN, WIRE_FORMAT } from "./nats_link.ts";

/** Bytes before the records of a request batch from another node. */
export const ORIGIN_HEADER_LEN = HEADER_LEN + 4;
/** Bytes before what goes back to a socket worker of another node. */
export const DELIVER_HEADER_LEN = HEADER_LEN + 1;
/** What follows the header of a delivery: a byte batch. */
export const DELIVER_BYTES = 1;
/** What follows the header of a delivery: a structured-clone batch as JSON text. */
export const DELIVER_CLONE = 2;
/** Other nodes' socket workers one request worker keeps. */
export const MAX_ORIGINS = 1024;
/** The most bytes one delivery carries: NATS's default `max_payload` is 1 MiB. */
export const MAX_DELIVERY = 512 << 10;

const enc = new TextEncoder();

/** A message of `kind` with `len` bytes of payload behind its header, time `time`. */
export function deliveryMessage(kind: number, time: number, len: number): Uint8Array {
  const m = new Uint8Array(DELIVER_HEADER_LEN + len);
  m[0] = WIRE_FORMAT;
  new DataView(m.buffer).setFloat64(1, time, true);
  m[HEADER_LEN] = kind;
  return m;
}

/**
 * Splits the byte batch at `b[0…len)` where its records end (each a 20-byte header whose last
 * u32 LE is the byte count behind it, `ws/messages.ts`'s `RES_FRAMES`), into parts of at most
 * `max` bytes (a record longer than that alone), and calls `part(from, to)` for each.
 */
export function splitRecords(
  b: Uint8Array,
  len: number,
  max: number,
  part: (from: number, to: number) => void,
): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let start = 0, p = 0;
  while (p < len) {
    const next = p + 20 + v.getUint32(p + 16, true);
    if (next - start > max && p > start) {
      part(start, p);
      start = p;
    }
    p = next;
  }
  if (len > start) part(start, Math.min(p, len));
}

/** `subject` without its last token: the socket worker, whichever start of it. */
function slotOf(subject: string): string {
  const dot = subject.lastIndexOf(".");
  return dot < 0 ? subject : subject.slice(0, dot);
}

/** One socket worker of another node, as a port of this request worker. */
class Origin implements Port {
  heard = 0;
  /** The time of its last batch, echoed in the next delivery; -1 when delivered. */
  echo = -1;
  constructor(
    public subject: string,
    readonly index: number,
    private publish: (subject: string, m: Uint8Array) => void,
  ) {}

  sendBytes(b: Uint8Array, len: number): void {
    if (this.subject === "") return;
    splitRecords(b, len, MAX_DELIVERY, (from, to) => {
      const m = deliveryMessage(DELIVER_BYTES, this.echo, to - from);
      m.set(b.subarray(from, to), DELIVER_HEADER_LEN);
      this.echo = -1;
      this.publish(this.subject, m);
    });
  }

  postMessage(batch: unknown): void {
    if (this.subject === "") return;
    const text = enc.encode(JSON.stringify(batch));
    const m = deliveryMessage(DELIVER_CLONE, this.echo, text.length);
    m.set(text, DELIVER_HEADER_LEN);
    this.publish(this.subject, m);
  }
}

/** The other nodes' socket workers one request worker answers. */
export class RemoteOrigins {
  /** Batches and records taken from other nodes. */
  readonly counts = { batches: 0, requests: 0 };
  #bySubject = new Map<string, Origin>();
  /** The same, by subject without its last token (one socket worker, whichever start). */
  #bySlot = new Map<string, Origin>();
  #free: number[] = [];
  #ports: Port[];
  #first: number;
  #publish: (subject: string, m: Uint8Array) => void;
  #gone: (index: number) => void;
  #max: number;

  /**
   * Origins numbered from `ports.length` up, each put into `ports` (the array the swarms flush
   * to); `publish` sends a message to a subject, `gone(index)` drops an origin's peers.
   */
  constructor(
    ports: Port[],
    publish: (subject: string, m: Uint8Array) => void,
    gone: (index: number) => void,
    max = MAX_ORIGINS,
  ) {
    this.#ports = ports;
    this.#first = ports.length;
    this.#publish = publish;
    this.#gone = gone;
    this.#max = max;
  }

  /** Origins known now. */
  get size(): number {
    return this.#bySubject.size;
  }

  /**
   * The socket worker index of the origin whose subject is `reply`, which sent the batch `m`
   * at `now`; -1 when `m` is not a batch of this format.
   */
  take(m: Uint8Array, reply: string, now: number): number {
    if (reply === "" || m.length < ORIGIN_HEADER_LEN || m[0] !== WIRE_FORMAT) return -1;
    const v = new DataView(m.buffer, m.byteOffset, m.length);
    let o = this.#bySubject.get(reply);
    if (o === undefined) {
      const slot = slotOf(reply), before = this.#bySlot.get(slot);
      if (before !== undefined) this.#drop(before);
      if (this.#bySubject.size >= this.#max) this.#drop(this.#quietest());
      const index = this.#free.pop() ?? this.#first + this.#bySubject.size;
      o = new Origin(reply, index, this.#publish);
      this.#bySubject.set(reply, o);
      this.#bySlot.set(slot, o);
      this.#ports[index] = o;
    }
    o.heard = now;
    o.echo = v.getFloat64(1, true);
    this.counts.batches++;
    this.counts.requests += v.getUint32(HEADER_LEN, true);
    return o.index;
  }

  /** Forgets the origins not heard from since `cutoff`; returns how many. */
  sweep(cutoff: number): number {
    let n = 0;
    for (const o of [...this.#bySubject.values()]) {
      if (o.heard < cutoff) {
        this.#drop(o);
        n++;
      }
    }
    return n;
  }

  /**
   * Forgets the origins whose node (`nodeOf` their subject) is not one of `nodes`; returns how
   * many.
   */
  keepNodes(nodes: readonly string[], nodeOf: (subject: string) => string): number {
    const live = new Set(nodes);
    let n = 0;
    for (const o of [...this.#bySubject.values()]) {
      if (!live.has(nodeOf(o.subject))) {
        this.#drop(o);
        n++;
      }
    }
    return n;
  }

  /**
   * Forgets every origin (this worker's NATS link is down: none of them can be reached, and
   * their peers come back with them, `ws/rejoins.ts`); returns how many.
   */
  clear(): number {
    const n = this.#bySubject.size;
    for (const o of [...this.#bySubject.values()]) this.#drop(o);
    return n;
  }

  #quietest(): Origin {
    let q: Origin | null = null;
    for (const o of this.#bySubject.values()) if (q === null || o.heard < q.heard) q = o;
    return q!;
  }

  #drop(o: Origin): void {
    this.#bySubject.delete(o.subject);
    if (this.#bySlot.get(slotOf(o.subject)) === o) this.#bySlot.delete(slotOf(o.subject));
    this.#gone(o.index);
    // What the swarms still send there goes nowhere, until the index is taken again.
    o.subject = "";
    this.#free.push(o.index);
  }
}
