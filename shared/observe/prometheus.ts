/**
 * The Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE
 * lines, each family's samples together, label values escaped.
 *
 * @module
 */

/** Labels of one sample. */
export type Labels = Record<string, string | number>;

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Builds one scrape's text. */
export class MetricsText {
  #families = new Map<string, { head: string[]; samples: string[] }>();

  /** Adds a sample of `name` (declared on first use as `type` with `help`). */
  add(type: "counter" | "gauge", name: string, help: string, value: number, labels: Labels = {}) {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { head: [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`], samples: [] };
      this.#families.set(name, f);
    }
    const keys = Object.keys(labels);
    const l = keys.length === 0
      ? ""
      : `{${keys.map((k) => `${k}="${escape(String(labels[k]))}"`).join(",")}}`;
    f.samples.push(`${name}${l} ${Number.isFinite(value) ? value : 0}`);
  }

  /** A counter sample. */
  counter(name: string, help: string, value: number, labels?: Labels): void {
    this.add("counter", name, help, value, labels);
  }

  /** A gauge sample. */
  gauge(name: string, help: string, value: number, labels?: Labels): void {
    this.add("gauge", name, help, value, labels);
  }

  /**
   * A histogram sample of `name`: `counts[k]` observations in bucket `k` (not cumulative),
   * whose upper bounds are `bounds` (the last `Infinity`), and their `sum`.
   */
  histogram(
    name: string,
    help: string,
    bounds: readonly number[],
    counts: readonly number[],
    sum: number,
    labels: Labels = {},
  ): void {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { head: [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`], samples: [] };
      this.#families.set(name, f);
    }
    const l = (extra: Labels) => {
      const all = { ...labels, ...extra }, keys = Object.keys(all);
      return keys.length === 0
        ? ""
        : `{${keys.map((k) => `${k}="${escape(String(all[k]))}"`).join(",")}}`;
    };
    let total = 0;
    bounds.forEach((b, k) => {
      total += counts[k];
      f.samples.push(`${name}_bucket${l({ le: b === Infinity ? "+Inf" : b })} ${total}`);
    });
    f.samples.push(`${name}_sum${l({})} ${sum}`, `${name}_count${l({})} ${total}`);
  }

  /** The text, each family's lines together, ending with a newline. */
  toString(): string {
    const lines: string[] = [];
    for (const f of this.#families.values()) lines.push(...f.head, ...f.samples);
    return lines.join("\n") + "\n";
  }
}

/** Parses exposition text into `name{labels}` → value (for tests). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sums the samples of `name` whose labels include `match`. */
export function sumMetric(
  metrics: Map<string, number>,
  name: string,
  match: Labels = {},
): number {
  let total = 0;
  for (const [key, v] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(match).every(([k, want]) => key.includes(`${k}="${want}"`))) total += v;
  }
  return total;
}
