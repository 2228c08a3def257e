/**
 * Configuration that describes itself: a schema of typed keys with defaults and one-line docs,
 * from which shoal prints the default TOML (`-p`), loads and checks a file (`-c`), and derives
 * the TypeScript type of the loaded config.
 *
 * @module
 */

import { parse as parseToml } from "toml";
import { OperatorError } from "../base/errors.ts";

/** One key of a config: its type, default, doc line and limits. */
export type Field =
  | { kind: "int"; default: number; doc: string; min: number; max: number }
  | { kind: "bool"; default: boolean; doc: string }
  | {
    kind: "string";
    default: string;
    doc: string;
    /** What the value should look like, for error messages. */
    expect?: string;
    /** Returns why `v` is invalid, or null when it is fine. */
    check?: (v: string) => string | null;
  }
  | { kind: "enum"; default: string; doc: string; values: readonly string[] };

/** A table of keys and nested tables. */
export interface Section {
  [key: string]: Field | Section;
}

/** An integer key within `[min, max]`. */
export function int(
  def: number,
  doc: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): { kind: "int"; default: number; doc: string; min: number; max: number } {
  return { kind: "int", default: def, doc, min, max };
}

/** A boolean key. */
export function bool(def: boolean, doc: string): { kind: "bool"; default: boolean; doc: string } {
  return { kind: "bool", default: def, doc };
}

/** A string key, optionally checked by `check`. */
export function str(
  def: string,
  doc: string,
  expect?: string,
  check?: (v: string) => string | null,
): {
  kind: "string";
  default: string;
  doc: string;
  expect?: string;
  check?: (v: string) => string | null;
} {
  return { kind: "string", default: def, doc, expect, check };
}

/** A key that takes one of `values`. */
export function oneOf<const V extends readonly string[]>(
  def: V[number],
  doc: string,
  values: V,
): { kind: "enum"; default: V[number]; doc: string; values: V } {
  return { kind: "enum", default: def, doc, values };
}

function isField(x: Field | Section): x is Field {
  return typeof (x as Field).kind === "string" && typeof (x as Field).doc === "string";
}

/** The value type a schema describes. */
export type ConfigOf<S> = {
  -readonly [K in keyof S]: S[K] extends { kind: "int" } ? number
    : S[K] extends { kind: "bool" } ? boolean
    : S[K] extends { kind: "enum"; values: readonly (infer V)[] } ? V
    : S[K] extends { kind: "string" } ? string
    : ConfigOf<S[K]>;
};

/** The defaults of a schema, as a config value. */
export function defaults<S extends Section>(schema: S): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = isField(v) ? v.default : defaults(v);
  }
  return out as ConfigOf<S>;
}

function tomlValue(f: Field, v: unknown): string {
  if (f.kind === "string" || f.kind === "enum") return JSON.stringify(v);
  return String(v);
}

function describe(f: Field): string {
  switch (f.kind) {
    case "int":
      return f.max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${f.min}`
        : `an integer from ${f.min} to ${f.max}`;
    case "bool":
      return "true or false";
    case "enum":
      return `one of ${f.values.map((x) => JSON.stringify(x)).join(", ")}`;
    case "string":
      return f.expect ?? "a string";
  }
}

/**
 * Prints `value` (by default the schema's defaults) as TOML with a comment over each key.
 * Top-level keys come first, then one table per section, as TOML requires.
 */
export function toToml<S extends Section>(
  schema: S,
  value: ConfigOf<S> = defaults(schema),
  header: string[] = [],
): string {
  const lines: string[] = header.map((h) => `# ${h}`);
  const walk = (sec: Section, val: Record<string, unknown>, path: string[]) => {
    const fields = Object.entries(sec).filter(([, v]) => isField(v)) as [string, Field][];
    const subs = Object.entries(sec).filter(([, v]) => !isField(v)) as [string, Section][];
    if (path.length > 0 && fields.length > 0) {
      if (lines.length > 0) lines.push("");
      lines.push(`[${path.join(".")}]`);
    }
    for (const [k, f] of fields) {
      if (lines.length > 0 && !lines[lines.length - 1].startsWith("[")) lines.push("");
      lines.push(`# ${f.doc}`, `${k} = ${tomlValue(f, val[k])}`);
    }
    for (const [k, s] of subs) walk(s, val[k] as Record<string, unknown>, [...path, k]);
  };
  walk(schema, value as Record<string, unknown>, []);
  return lines.join("\n") + "\n";
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "date";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "float";
  if (typeof v === "object" && v !== null) return "table";
  return typeof v;
}

function checkField(f: Field, v: unknown): string | null {
  switch (f.kind) {
    case "int":
      if (typeof v === "bigint") return "out of range";
      if (typeof v !== "number" || !Number.isInteger(v)) return "wrong type";
      return v < f.min || v > f.max ? "out of range" : null;
    case "bool":
      return typeof v === "boolean" ? null : "wrong type";
    case "enum":
      return typeof v === "string" && f.values.includes(v) ? null : "wrong value";
    case "string":
      if (typeof v !== "string") return "wrong type";
      return f.check ? f.check(v) : null;
  }
}

/**
 * Applies the TOML text `text` (read from `file`, named in errors) over the schema's defaults.
 * Throws `OperatorError` with a one-line message naming the file and key on any problem.
 */
export function fromToml<S extends Section>(schema: S, text: string, file: string): ConfigOf<S> {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0]
      .replace(/^Invalid TOML document: /, "");
    const line = (e as { line?: number }).line;
    throw new OperatorError(`${file}: invalid TOML${line ? ` at line ${line}` : ""}: ${msg}`);
  }
  const out = defaults(schema) as Record<string, unknown>;
  const walk = (
    sec: Section,
    src: Record<string, unknown>,
    dst: Record<string, unknown>,
    path: string,
  ) => {
    for (const [k, v] of Object.entries(src)) {
      const key = path ? `${path}.${k}` : k;
      const spec = Object.hasOwn(sec, k) ? sec[k] : undefined;
      if (spec === undefined) throw new OperatorError(`${file}: unknown key "${key}"`);
      if (!isField(spec)) {
        if (typeName(v) !== "table") {
          throw new OperatorError(
            `${file}: "${key}" must be a table ([${key}]), got ${typeName(v)}`,
          );
        }
        walk(spec, v as Record<string, unknown>, dst[k] as Record<string, unknown>, key);
        continue;
      }
      const problem = checkField(spec, v);
      if (problem !== null) {
        const got = typeof v === "string" ? `${JSON.stringify(v)}` : `${String(v)}`;
        const generic = problem === "wrong type" || problem === "out of range" ||
          problem === "wrong value";
        throw new OperatorError(
          generic
            ? `${file}: ${key}: expected ${describe(spec)}, got ${got} (${typeName(v)})`
            : `${file}: ${key}: ${problem}, got ${got} (expected ${describe(spec)})`,
        );
      }
      dst[k] = v;
    }
  };
  walk(schema, doc, out, "");
  return out as ConfigOf<S>;
}

/** Reads and loads a config file; unreadable files become an `OperatorError`. */
export async function loadConfigFile<S extends Section>(
  schema: S,
  file: string,
): Promise<ConfigOf<S>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : (e instanceof Error ? e.message : String(e));
    throw new OperatorError(`cannot read config file ${file}: ${why}`);
  }
  return fromToml(schema, text, file);
}
