/**
 * How `shoal udp`'s socket workers read in the metrics, the statistics page and the summary
 * line (`shared/observe/view.ts` builds those from this view).
 *
 * @module
 */

import type { ProtocolView } from "../shared/observe/view.ts";
import { type SocketStats, Stat, STAT_COUNT, total } from "./stats.ts";

const REQUESTS = [
  ["connect", Stat.Connect],
  ["announce", Stat.Announce],
  ["scrape", Stat.Scrape],
] as const;
const RESPONSES = [
  ["connect", Stat.SentConnect],
  ["announce", Stat.SentAnnounce],
  ["scrape", Stat.SentScrape],
  ["error", Stat.SentError],
] as const;

/** The UDP tracker's view. */
export const udpView: ProtocolView<SocketStats> = {
  protocol: "udp",
  totals(s) {
    const t = (k: number) => total(s.counters, k);
    return {
      requests: t(Stat.Connect) + t(Stat.Announce) + t(Stat.Scrape),
      responses: t(Stat.SentConnect) + t(Stat.SentAnnounce) + t(Stat.SentScrape) +
        t(Stat.SentError),
      connects: t(Stat.Connect),
      announces: t(Stat.Announce),
      scrapes: t(Stat.Scrape),
      sentConnects: t(Stat.SentConnect),
      sentAnnounces: t(Stat.SentAnnounce),
      sentScrapes: t(Stat.SentScrape),
      errors: t(Stat.SentError),
      ignored: t(Stat.Invalid) + t(Stat.BadConnectionId),
      bytesIn: t(Stat.ReceivedBytes),
      bytesOut: t(Stat.SentBytes),
    };
  },
  rateCards: [
    ["requests", "requests/s", "requests"],
    ["responses", "responses/s", "responses"],
    ["announces", "announces/s", "sentAnnounces"],
    ["scrapes", "scrapes/s", "sentScrapes"],
    ["connects", "connects/s", "sentConnects"],
    ["errors", "errors/s", "errors"],
    ["ignored", "ignored/s", "ignored"],
  ],
  metrics(m, s) {
    const worker = s.index, c = s.counters;
    for (const v of [4, 6] as const) {
      const at = v === 4 ? 0 : STAT_COUNT, ip_version = v;
      for (const [type, k] of REQUESTS) {
        m.counter(
          "shoal_udp_requests_total",
          "Requests with a valid header (and ID, but for connects), by type.",
          c[at + k],
          { type, ip_version, worker },
        );
      }
      for (const [type, k] of RESPONSES) {
        m.counter("shoal_udp_responses_total", "Responses sent, by type.", c[at + k], {
          type,
          ip_version,
          worker,
        });
      }
      const ignored = "Datagrams not answered, by reason.";
      m.counter("shoal_udp_ignored_total", ignored, c[at + Stat.Invalid], {
        reason: "invalid",
        ip_version,
        worker,
      });
      m.counter("shoal_udp_ignored_total", ignored, c[at + Stat.BadConnectionId], {
        reason: "bad_connection_id",
        ip_version,
        worker,
      });
      m.counter(
        "shoal_udp_received_bytes_total",
        "Bytes of datagrams received.",
        c[at + Stat.ReceivedBytes],
        { ip_version, worker },
      );
      m.counter("shoal_udp_sent_bytes_total", "Bytes of datagrams sent.", c[at + Stat.SentBytes], {
        ip_version,
        worker,
      });
      m.counter(
        "shoal_udp_dropped_total",
        "Requests dropped inside shoal, by reason.",
        c[at + Stat.Dropped],
        { reason: "pending_scrapes_full", ip_version, worker },
      );
    }
    m.counter("shoal_udp_dropped_total", "Requests dropped inside shoal, by reason.", s.sendDrops, {
      reason: "send_buffer_full",
      ip_version: "any",
      worker,
    });
  },
  summary(rate) {
    const mb = (k: string) => (rate(k) / 1e6).toFixed(2);
    return `${rate("requests")} requests/s (connect ${rate("connects")}, announce ${
      rate("announces")
    }, scrape ${rate("scrapes")}, ignored ${rate("ignored")}); ${
      rate("responses")
    } responses/s (connect ${rate("sentConnects")}, announce ${rate("sentAnnounces")}, scrape ${
      rate("sentScrapes")
    }, error ${rate("errors")}); ${mb("bytesIn")} MB/s in, ${mb("bytesOut")} MB/s out`;
  },
};
