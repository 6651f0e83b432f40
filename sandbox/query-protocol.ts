import type { SandboxResponse } from "./http.ts";

/**
 * AWS's query protocol (awsQuery), which IAM and CloudWatch speak: a form-encoded POST with `Action` and `Version`,
 * nested members written `A.B`, list members `A.member.N` (from 1), and an XML answer
 * `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…</ResponseMetadata></ActionResponse>` whose lists
 * are `<member>` elements and maps `<entry><key/><value/></entry>`; errors are `<ErrorResponse>`.
 * https://smithy.io/2.0/aws/protocols/aws-query-protocol.html
 */

export type QueryValue = string | QueryValue[] | { [member: string]: QueryValue };

/** The form's members as a tree: `A.member.2.B=x` becomes `{ A: [<hole>, { B: "x" }] }`. */
export function parseQueryForm(body: Buffer): Record<string, QueryValue> {
  const root: Record<string, QueryValue> = {};
  for (const [name, value] of new URLSearchParams(body.toString("utf8"))) {
    const path = name.split(".");
    let node: Record<string, QueryValue> | QueryValue[] = root;
    for (let i = 0; i < path.length; i++) {
      const part = path[i] ?? "";
      const last = i === path.length - 1;
      const listIndex = path[i + 1] === "member" && /^\d+$/.test(path[i + 2] ?? "") ? Number(path[i + 2]) - 1 : -1;
      if (listIndex >= 0) {
        const list = child(node, part, () => []) as QueryValue[];
        if (i + 2 === path.length - 1) {
          list[listIndex] = value;
          break;
        }
        node = childAt(list, listIndex);
        i += 2;
        continue;
      }
      if (last) {
        set(node, part, value);
        break;
      }
      node = child(node, part, () => ({})) as Record<string, QueryValue>;
    }
  }
  return root;
}

function child(node: Record<string, QueryValue> | QueryValue[], key: string, make: () => QueryValue): QueryValue {
  const holder = node as Record<string, QueryValue>;
  const existing = holder[key];
  if (existing !== undefined && typeof existing !== "string") return existing;
  const made = make();
  holder[key] = made;
  return made;
}

function childAt(list: QueryValue[], index: number): Record<string, QueryValue> {
  const existing = list[index];
  if (existing !== undefined && typeof existing === "object" && !Array.isArray(existing)) return existing;
  const made: Record<string, QueryValue> = {};
  list[index] = made;
  return made;
}

function set(node: Record<string, QueryValue> | QueryValue[], key: string, value: string): void {
  (node as Record<string, QueryValue>)[key] = value;
}

/** Typed reads of a request's members; a missing required member or a malformed value throws the service's error. */
export class QueryInput {
  constructor(
    private readonly members: Record<string, QueryValue>,
    private readonly invalid: (member: string, problem: "missing" | "malformed", value?: string) => Error,
    private readonly prefix = "",
  ) {}

  has(name: string): boolean {
    return this.members[name] !== undefined;
  }

  string(name: string): string | undefined {
    const v = this.members[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw this.invalid(this.prefix + name, "malformed");
    return v;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw this.invalid(this.prefix + name, "missing");
    return v;
  }

  integer(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v.trim())) throw this.invalid(this.prefix + name, "malformed", v);
    return Number(v);
  }

  boolean(name: string): boolean | undefined {
    const v = this.string(name)?.trim().toLowerCase();
    if (v === undefined) return undefined;
    if (v !== "true" && v !== "false") throw this.invalid(this.prefix + name, "malformed", v);
    return v === "true";
  }

  /** An ISO 8601 timestamp (as the query protocol writes them) or epoch seconds. */
  timestamp(name: string): Date | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const t = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
    if (Number.isNaN(t)) throw this.invalid(this.prefix + name, "malformed", v);
    return new Date(t);
  }

  /** A list of strings; an empty list arrives as the bare member (`Name=`). */
  strings(name: string): string[] | undefined {
    const v = this.members[name];
    if (v === undefined) return undefined;
    if (v === "") return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw this.invalid(this.prefix + name, "malformed");
    return v.filter((x): x is string => x !== undefined);
  }

  /** A list of structures. */
  list(name: string): QueryInput[] | undefined {
    const v = this.members[name];
    if (v === undefined) return undefined;
    if (v === "") return [];
    if (!Array.isArray(v)) throw this.invalid(this.prefix + name, "malformed");
    return v
      .map((x, i) => ({ x, i }))
      .filter(({ x }) => x !== undefined)
      .map(({ x, i }) => {
        if (typeof x !== "object" || Array.isArray(x))
          throw this.invalid(`${this.prefix}${name}.member.${i + 1}`, "malformed");
        return new QueryInput(x, this.invalid, `${this.prefix}${name}.member.${i + 1}.`);
      });
  }

  /** A nested structure. */
  struct(name: string): QueryInput | undefined {
    const v = this.members[name];
    if (v === undefined) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) throw this.invalid(this.prefix + name, "malformed");
    return new QueryInput(v, this.invalid, `${this.prefix}${name}.`);
  }
}

/** A map member, written `<entry><key>…</key><value>…</value></entry>`. */
export class XmlMap {
  constructor(readonly entries: Record<string, XmlValue>) {}
}

export type XmlValue =
  | string
  | number
  | boolean
  | Date
  | undefined
  | XmlMap
  | XmlValue[]
  | { [member: string]: XmlValue };

/** One member as query-protocol XML; undefined members are left out, lists are `<member>` elements. */
export function xmlMember(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  return `<${name}>${xmlContent(value)}</${name}>`;
}

function xmlContent(value: XmlValue): string {
  if (value === undefined) return "";
  if (value instanceof Date) return isoSeconds(value);
  if (typeof value === "string") return escapeXml(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map((v) => xmlMember("member", v)).join("");
  if (value instanceof XmlMap) {
    return Object.entries(value.entries)
      .map(([k, v]) => `<entry>${xmlMember("key", k)}${xmlMember("value", v)}</entry>`)
      .join("");
  }
  return Object.entries(value)
    .map(([k, v]) => xmlMember(k, v))
    .join("");
}

/** A timestamp as AWS's query services write them: ISO 8601, whole seconds, UTC. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A successful answer: the result's members inside `<ActionResult>`, or no result element for an empty output. */
export function queryResponse(
  namespace: string,
  action: string,
  requestId: string,
  result: Record<string, XmlValue> | undefined,
): SandboxResponse {
  const inner = result === undefined ? "" : `<${action}Result>${xmlContent(result)}</${action}Result>`;
  return {
    status: 200,
    headers: { "content-type": "text/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}">${inner}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

/** An error answer: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function queryError(
  namespace: string,
  status: number,
  code: string,
  message: string,
  requestId: string,
): SandboxResponse {
  const type = status >= 500 ? "Receiver" : "Sender";
  return {
    status,
    headers: { "content-type": "text/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
