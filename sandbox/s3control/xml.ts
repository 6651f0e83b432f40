import { XMLBuilder, XMLParser } from "fast-xml-parser";

/**
 * A parsed REST-XML document. Elements are looked up by name because the JS SDK and botocore emit
 * CreateJob members in different orders; `<member>` (lists) and `<entry>` (maps) are always arrays.
 */
export type XmlValue = string | XmlTree | XmlValue[];
export interface XmlTree {
  [name: string]: XmlValue;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  removeNSPrefix: true,
  // Keep every value a string: "0010" must stay a key, "true" is parsed case-insensitively by us.
  parseTagValue: false,
  isArray: (name) => name === "member" || name === "entry",
});

const builder = new XMLBuilder({});

export function parseXml(text: string): XmlTree {
  const parsed: unknown = parser.parse(text);
  return isTree(parsed) ? parsed : {};
}

export function isTree(v: unknown): v is XmlTree {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The child element `name` as a tree; an empty element (`<SSE-S3/>`) counts as an empty tree. */
export function child(node: XmlTree | undefined, name: string): XmlTree | undefined {
  const v = node?.[name];
  if (v === "") return {};
  return isTree(v) ? v : undefined;
}

export function text(node: XmlTree | undefined, name: string): string | undefined {
  const v = node?.[name];
  return typeof v === "string" ? v : undefined;
}

export function has(node: XmlTree | undefined, name: string): boolean {
  return node !== undefined && Object.hasOwn(node, name);
}

/** The `<member>` items of list element `name`; `[]` when the list is empty or absent. */
export function members(node: XmlTree | undefined, name: string): XmlValue[] {
  const list = node?.[name];
  if (!isTree(list)) return [];
  const items = list.member;
  return Array.isArray(items) ? items : [];
}

/** The `<entry><key/><value/></entry>` pairs of map element `name`. */
export function entries(node: XmlTree | undefined, name: string): Record<string, string> {
  const map = node?.[name];
  const out: Record<string, string> = {};
  if (!isTree(map)) return out;
  const items = map.entry;
  for (const item of Array.isArray(items) ? items : []) {
    if (!isTree(item)) continue;
    const key = text(item, "key");
    if (key !== undefined) out[key] = text(item, "value") ?? "";
  }
  return out;
}

/** Serialises a subtree back to XML under `name` (DescribeJob echoes Manifest, Operation and Report as sent). */
export function buildXml(name: string, tree: XmlTree): string {
  return builder.build({ [name]: tree }) as string;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `<name>value</name>`, or nothing when the value is absent. */
export function element(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return "";
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** Stable JSON of a tree with keys sorted, so two requests that differ only in element order compare equal. */
export function canonicalJson(v: XmlValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] ?? "")}`).join(",")}}`;
}
