/**
 * What travels between WebSocket socket workers and request workers: arrays of these items,
 * one array per batch and destination, as structured-clone messages.
 *
 * @module
 */

import type { AnnounceRequest, AnswerRequest } from "./protocol.ts";

/** Socket worker → request worker: one item of a batch. */
export type ToRequest =
  | { c: number; r: AnnounceRequest | AnswerRequest }
  | { c: number; id: number; h: string[] }
  | { c: number; closed: true };

/** Request worker → socket worker: one item of a batch. */
export type ToSocket =
  | { c: number; m: string }
  | { c: number; id: number; files: ScrapeEntry[] };

/** One scrape entry: info hash, complete, incomplete, downloaded. */
export type ScrapeEntry = [string, number, number, number];
