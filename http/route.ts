/**
 * Which tracker request a path names: `/announce` and `/scrape` on an open tracker; on a
 * private one, also the forms that carry a key (`/KEY/announce`, `/announce/KEY`: read by
 * `shared/net/key_path.ts`, whose key range the front then checks).
 *
 * @module
 */

import { KeyPath, PathKind } from "../shared/net/key_path.ts";
import type { HttpRequest } from "./request.ts";

const enc = new TextEncoder();
const ANNOUNCE_PATH = enc.encode("/announce"), SCRAPE_PATH = enc.encode("/scrape");

/** What a request asks for. */
export const Route = { Other: 0, Announce: 1, Scrape: 2 } as const;

/** Reads request paths; `keyed` for a private tracker. */
export class Routes {
  /** The last private path read: its key's range in the request's buffer. */
  readonly path: KeyPath = new KeyPath();
  #keyed: boolean;

  /** Routes for an open tracker, or a private one (`keyed`). */
  constructor(keyed: boolean) {
    this.#keyed = keyed;
  }

  /** The `Route` of `req`'s path. */
  of(req: HttpRequest): number {
    if (!this.#keyed) {
      return req.pathIs(ANNOUNCE_PATH)
        ? Route.Announce
        : req.pathIs(SCRAPE_PATH)
        ? Route.Scrape
        : Route.Other;
    }
    const kind = this.path.parse(req.buf, req.pathStart, req.pathEnd);
    return kind === PathKind.Announce
      ? Route.Announce
      : kind === PathKind.Scrape
      ? Route.Scrape
      : Route.Other;
  }
}
