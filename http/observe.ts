/**
 * How the HTTP tracker's socket workers read in the metrics, the statistics page and the
 * summary line (`shared/observe/view.ts` builds those from this view).
 *
 * @module
 */

import type { ProtocolView } from "../shared/observe/view.ts";
import { refusalMetrics } from "../shared/observe/limit_log.ts";
import type { HttpSocketStats } from "./socket_init.ts";

/** The HTTP tracker's view. */
export const httpView: ProtocolView<HttpSocketStats> = {
  protocol: "http",
  totals: ({ counters: c }) => ({
    requests: c.announces + c.scrapes + c.other,
    responses: c.responses,
    announces: c.announces,
    scrapes: c.scrapes,
    failures: c.failures,
    errors: c.errors,
    accepted: c.accepted,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
  }),
  sizes: (s) => ({ connections: s.connections }),
  rateCards: [
    ["requests", "requests/s", "requests"],
    ["responses", "responses/s", "responses"],
    ["announces", "announces/s", "announces"],
    ["scrapes", "scrapes/s", "scrapes"],
    ["failures", "failures/s", "failures"],
    ["accepted", "connections/s", "accepted"],
  ],
  sizeCards: [["connections", "connections", "connections"]],
  metrics(m, s) {
    const c = s.counters, worker = s.index;
    m.gauge("shoal_http_connections", "Open HTTP connections.", s.connections, { worker });
    m.counter("shoal_http_connections_accepted_total", "HTTP connections accepted.", c.accepted, {
      worker,
    });
    const closed = "HTTP connections closed, by reason.";
    const other = c.closed - c.timedOut - c.idle - c.slow;
    for (
      const [reason, n] of [["timeout", c.timedOut], ["idle", c.idle], ["slow", c.slow], [
        "other",
        other,
      ]] as const
    ) {
      m.counter("shoal_http_connections_closed_total", closed, n, { reason, worker });
    }
    const req = "HTTP requests, by type.";
    m.counter("shoal_http_requests_total", req, c.announces, { type: "announce", worker });
    m.counter("shoal_http_requests_total", req, c.scrapes, { type: "scrape", worker });
    m.counter("shoal_http_requests_total", req, c.other, { type: "other", worker });
    const res = "HTTP responses, by kind.";
    const ok = c.responses - c.failures - c.errors;
    m.counter("shoal_http_responses_total", res, ok, { kind: "ok", worker });
    m.counter("shoal_http_responses_total", res, c.failures, { kind: "failure", worker });
    m.counter("shoal_http_responses_total", res, c.errors, { kind: "error", worker });
    m.counter(
      "shoal_http_ignored_ip_parameters_total",
      "Trusted ip, ipv4 or ipv6 parameters that were not a literal address, and were ignored.",
      c.ignoredIps,
      { worker },
    );
    m.counter("shoal_http_received_bytes_total", "Bytes received.", c.bytesIn, { worker });
    m.counter("shoal_http_sent_bytes_total", "Bytes sent.", c.bytesOut, { worker });
    refusalMetrics(m, s.refused, worker);
  },
  summary: (rate, size) =>
    `${size("connections")} connections; ${rate("requests")} requests/s (announce ${
      rate("announces")
    }, scrape ${rate("scrapes")}), ${rate("responses")} responses/s (failures ${
      rate("failures")
    }); ${rate("accepted")} connections/s`,
};
