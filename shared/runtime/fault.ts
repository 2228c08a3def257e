/**
 * Fault injection for tests: `SHOAL_FAULT=socket|request:N[:once|always|hang][@MS]` makes
 * that worker throw (once, or on every start) or hang, MS milliseconds after it starts (300 by
 * default). Without `--allow-env`, or with the variable unset, nothing is injected.
 *
 * @module
 */

/** A worker told to fail. */
export interface Fault {
  /** `socket` or `request`. */
  role: string;
  /** Worker index. */
  index: number;
  /** Throw once (the replacement is healthy), throw on every start, or hang once. */
  mode: "once" | "always" | "hang";
  /** Delay after start. */
  ms: number;
}

/** Parsed `SHOAL_FAULT`, or null. */
export function faultTarget(): Fault | null {
  let v: string | undefined;
  try {
    v = Deno.env.get("SHOAL_FAULT");
  } catch {
    return null; // no --allow-env: no fault injection
  }
  const m = v ? /^(socket|request):(\d+)(?::(once|always|hang))?(?:@(\d+))?$/.exec(v) : null;
  if (m === null) return null;
  const mode = (m[3] ?? "once") as Fault["mode"];
  return { role: m[1], index: Number(m[2]), mode, ms: Number(m[4] ?? 300) };
}

/** The fault a worker start gets: "" (none), or "throw@MS" / "hang@MS". */
export function faultFor(f: Fault | null, role: string, index: number, restart: boolean): string {
  if (f === null || f.role !== role || f.index !== index) return "";
  if (f.mode === "always") return `throw@${f.ms}`;
  if (restart) return "";
  return `${f.mode === "hang" ? "hang" : "throw"}@${f.ms}`;
}

/** Makes the calling worker misbehave as `fault` (from `faultFor`) says. */
export function injectFault(fault: string): void {
  const [kind, ms] = fault.split("@");
  if (kind === "throw") {
    setTimeout(() => {
      throw new Error("injected fault (SHOAL_FAULT)");
    }, Number(ms));
  } else if (kind === "hang") {
    setTimeout(() => {
      for (;;) { /* a stuck worker, for the heartbeat to find */ }
    }, Number(ms));
  }
}
