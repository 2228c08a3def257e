/**
 * How `shoal ws`'s workers read in the metrics, the statistics page and the summary line
 * (`shared/observe/view.ts` builds those from this view).
 *
 * @module
 */

import type { ProtocolView } from "../shared/observe/view.ts";
import { refusalMetrics } from "../shared/observe/limit_log.ts";
import type { WsSocketStats } from "./socket_init.ts";

/** The WebTorrent tracker's view. */
export const wsView: ProtocolView<WsSocketStats> = {
  protocol: "ws",
  totals: ({ counters: c }) => ({
    requests: c.messagesIn,
    responses: c.messagesOut,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
  }),
  requestTotals: (r) => ({
    offers: r.counters?.offersForwarded ?? 0,
    answers: r.counters?.answersForwarded ?? 0,
  }),
  sizes: (s) => ({ connections: s.connections }),
  rateCards: [
    ["requests", "messages/s in", "requests"],
    ["responses", "messages/s out", "responses"],
    ["offers", "offers/s", "offers"],
    ["answers", "answers/s", "answers"],
  ],
  sizeCards: [["connections", "connections", "connections"]],
  metrics(m, s) {
    const c = s.counters, worker = s.index;
    m.gauge("shoal_ws_connections", "Open WebSocket connections.", s.connections, { worker });
    m.counter(
      "shoal_ws_connections_accepted_total",
      "WebSocket connections accepted.",
      c.accepted,
      { worker },
    );
    const closed = "WebSocket connections closed, by reason.";
    const other = c.closed - c.violations - c.slow - c.idle;
    for (const [reason, n] of [["violation", c.violations], ["slow", c.slow], ["idle", c.idle]]) {
      m.counter("shoal_ws_connections_closed_total", closed, n as number, { reason, worker });
    }
    m.counter("shoal_ws_connections_closed_total", closed, other, { reason: "other", worker });
    const recv = "Messages received, by type.";
    m.counter("shoal_ws_messages_received_total", recv, c.announces, { type: "announce", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.answers, { type: "answer", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.scrapes, { type: "scrape", worker });
    m.counter("shoal_ws_messages_received_total", recv, c.invalid, { type: "invalid", worker });
    m.counter("shoal_ws_messages_sent_total", "Messages sent.", c.messagesOut, { worker });
    m.counter("shoal_ws_received_bytes_total", "Bytes of text messages received.", c.bytesIn, {
      worker,
    });
    m.counter("shoal_ws_sent_bytes_total", "Bytes of text messages sent.", c.bytesOut, { worker });
    refusalMetrics(m, s.refused, worker);
  },
  requestMetrics(m, r) {
    const worker = r.index, c = r.counters ?? {};
    m.counter("shoal_ws_offers_forwarded_total", "Offers forwarded to peers.", c.offersForwarded, {
      worker,
    });
    m.counter(
      "shoal_ws_answers_forwarded_total",
      "Answers forwarded to offerers.",
      c.answersForwarded,
      { worker },
    );
    m.counter(
      "shoal_ws_failures_total",
      "Requests refused with a failure reason by the swarms.",
      c.failures,
      { worker },
    );
  },
  summary: (rate, size) =>
    `${size("connections")} connections; ${rate("requests")} messages/s in, ${
      rate("responses")
    } out (offers ${rate("offers")}, answers ${rate("answers")})`,
};
