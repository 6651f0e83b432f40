import { XMLParser, XMLValidator } from "fast-xml-parser";
import { ServiceError } from "../http.ts";

export const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** A node of a response document: child elements in the order S3 writes them; undefined children are left out. */
export type XmlValue = string | number | boolean | Date | XmlNode | XmlNode[] | undefined;
export type XmlNode = { [element: string]: XmlValue | XmlValue[] };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ENTITIES[c] ?? c);
}
const ENTITIES: Record<string, string> = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" };

/** S3 writes timestamps in XML as ISO 8601 with milliseconds (always .000, since S3 keeps seconds). */
export function isoTime(d: Date): string {
  return d.toISOString();
}

/** Builds `<?xml ...?><Root xmlns="...">...</Root>`; arrays repeat the element, as S3's flattened lists do. */
export function xmlDocument(root: string, body: XmlNode, xmlns: string | undefined = S3_XMLNS): string {
  const ns = xmlns ? ` xmlns="${xmlns}"` : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${renderChildren(body)}</${root}>`;
}

function renderChildren(node: XmlNode): string {
  let out = "";
  for (const [name, value] of Object.entries(node)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) out += renderElement(name, v);
  }
  return out;
}

function renderElement(name: string, value: XmlValue | XmlValue[]): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => renderElement(name, v)).join("");
  if (value instanceof Date) return `<${name}>${isoTime(value)}</${name}>`;
  if (typeof value === "object") return `<${name}>${renderChildren(value)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** Elements that S3 request bodies may repeat; the parser keeps them as arrays even when only one is present. */
const REPEATED = new Set(["Tag", "Part", "Rule", "Field", "Object", "Grant"]);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  removeNSPrefix: true,
  isArray: (name) => REPEATED.has(name),
});

/** Parses a request body; invalid XML is S3's MalformedXML. */
export function parseXmlBody(body: Buffer): Record<string, unknown> {
  const text = body.toString("utf8");
  if (text.trim() === "" || XMLValidator.validate(text) !== true) throw malformedXml();
  const parsed: unknown = parser.parse(text);
  if (!isRecord(parsed)) throw malformedXml();
  return parsed;
}

export function malformedXml(): ServiceError {
  return new ServiceError(
    "MalformedXML",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema",
  );
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A child element as a record; a self-closing element (`<SSE-S3/>`) parses as "" and counts as present and empty. */
export function child(node: unknown, name: string): Record<string, unknown> | undefined {
  if (!isRecord(node)) return undefined;
  const v = node[name];
  if (v === "") return {};
  return isRecord(v) ? v : undefined;
}

export function text(node: unknown, name: string): string | undefined {
  if (!isRecord(node)) return undefined;
  const v = node[name];
  return typeof v === "string" ? v : undefined;
}

export function list(node: unknown, name: string): unknown[] {
  if (!isRecord(node)) return [];
  const v = node[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
