import type { S3Client } from "@aws-sdk/client-s3";
import type { CatalogTable } from "./catalog.ts";
import { ErrorTypes, QueryFailure } from "./errors.ts";
import { listObjects, parseS3Uri } from "./s3-io.ts";

/**
 * A table's partitions: those partition projection allows
 * (https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html), or those MSCK REPAIR TABLE registered.
 * Athena computes projected partitions without listing S3; the sandbox lists the prefix the location template
 * starts with and keeps the partitions found whose values the projection allows (the same rows: a projected
 * partition with no objects has no rows). See sandbox/ATHENA.md.
 */
export interface Partition {
  /** Partition key → value. */
  values: Record<string, string>;
  /** `s3://bucket/prefix/` of the partition's objects. */
  location: string;
}

/** Only these values of a partition key can match the query's WHERE clause (pruning; see dialect.ts). */
export type PartitionFilter = Map<string, Set<string>>;

export async function tablePartitions(
  s3: S3Client,
  table: CatalogTable,
  filter: PartitionFilter,
): Promise<Partition[]> {
  if (table.partitionKeys.length === 0) return [{ values: {}, location: table.location }];
  const props = table.tableProperties;
  const projected = props["projection.enabled"]?.toLowerCase() === "true";
  const found = projected
    ? (await discoverPartitions(s3, table, props["storage.location.template"])).filter((p) =>
        allowedByProjection(table, p),
      )
    : table.partitions.map((p) => ({
        values: Object.fromEntries(table.partitionKeys.map((k, i) => [k.name, p.values[i] ?? ""])),
        location: p.location,
      }));
  return found.filter((p) => [...filter].every(([key, values]) => values.has(p.values[key] ?? "")));
}

/** Partitions under the location (or template), found by listing: Hive-style `key=value/` folders by default. */
export async function discoverPartitions(
  s3: S3Client,
  table: CatalogTable,
  template = table.location + table.partitionKeys.map((k) => `${k.name}=\${${k.name}}`).join("/"),
): Promise<Partition[]> {
  const start = template.indexOf("${");
  const fixed = start < 0 ? template : template.slice(0, start);
  const at = parseS3Uri(fixed);
  if (!at) throw new QueryFailure(`Invalid partition location template '${template}'`, ErrorTypes.invalidArgument);
  const names: string[] = [];
  const pattern = new RegExp(
    `^${escapeRegExp(template)
      .replace(/\\\$\\\{([A-Za-z0-9_]+)\\\}/g, (_, name: string) => {
        names.push(name.toLowerCase());
        return "([^/]+)";
      })
      .replace(/\/$/, "")}/`,
  );
  const partitions = new Map<string, Partition>();
  for (const o of await listObjects(s3, at)) {
    const m = pattern.exec(`s3://${at.bucket}/${o.key}`);
    if (!m) continue;
    const location = m[0];
    if (partitions.has(location)) continue;
    partitions.set(location, { values: Object.fromEntries(names.map((n, i) => [n, m[i + 1] ?? ""])), location });
  }
  return [...partitions.values()].sort((a, b) => a.location.localeCompare(b.location));
}

function allowedByProjection(table: CatalogTable, p: Partition): boolean {
  const props = table.tableProperties;
  return table.partitionKeys.every((k) => {
    const value = p.values[k.name] ?? "";
    const type = props[`projection.${k.name}.type`]?.toLowerCase();
    const range = props[`projection.${k.name}.range`];
    if (type === "enum")
      return (props[`projection.${k.name}.values`] ?? "")
        .split(",")
        .map((v) => v.trim())
        .includes(value);
    if (type === "integer") {
      const [lo, hi] = (range ?? "").split(",").map((v) => Number(v.trim()));
      const n = Number(value);
      return Number.isInteger(n) && n >= (lo ?? -Infinity) && n <= (hi ?? Infinity);
    }
    if (type === "date") {
      const format = props[`projection.${k.name}.format`] ?? "yyyy-MM-dd";
      const at = parseJavaDate(value, format);
      if (at === undefined) return false;
      const [lo, hi] = (range ?? "").split(",").map((v) => dateBound(v.trim(), format));
      return (lo === undefined || at >= lo) && (hi === undefined || at <= hi);
    }
    // `injected` (the query gives the value) and unknown types: any value found.
    return true;
  });
}

const DATE_FIELDS: Record<string, string> = {
  yyyy: "(\\d{4})",
  MM: "(\\d{2})",
  dd: "(\\d{2})",
  HH: "(\\d{2})",
  mm: "(\\d{2})",
  ss: "(\\d{2})",
};

/** A value in a Java DateTimeFormatter pattern of the fields yyyy MM dd HH mm ss, as UTC milliseconds. */
export function parseJavaDate(value: string, format: string): number | undefined {
  const order: string[] = [];
  const source = format.replace(/yyyy|MM|dd|HH|mm|ss|[^A-Za-z]/g, (f) => {
    if (DATE_FIELDS[f]) {
      order.push(f);
      return DATE_FIELDS[f];
    }
    return escapeRegExp(f);
  });
  const m = new RegExp(`^${source}$`).exec(value);
  if (!m) return undefined;
  const field = (f: string, dflt: number) => {
    const i = order.indexOf(f);
    return i < 0 ? dflt : Number(m[i + 1]);
  };
  return Date.UTC(
    field("yyyy", 1970),
    field("MM", 1) - 1,
    field("dd", 1),
    field("HH", 0),
    field("mm", 0),
    field("ss", 0),
  );
}

/** A range bound: a date in the format, or `NOW` with an optional `+N UNIT`/`-N UNIT` offset. */
function dateBound(bound: string, format: string): number | undefined {
  const now = /^NOW(?:\s*([+-])\s*(\d+)\s*(YEAR|MONTH|WEEK|DAY|HOUR|MINUTE|SECOND)S?)?$/i.exec(bound);
  if (!now) return parseJavaDate(bound, format);
  const unitMs: Record<string, number> = {
    WEEK: 604_800_000,
    DAY: 86_400_000,
    HOUR: 3_600_000,
    MINUTE: 60_000,
    SECOND: 1000,
    MONTH: 2_678_400_000,
    YEAR: 31_622_400_000,
  };
  const offset = now[1] ? Number(now[2]) * (unitMs[(now[3] ?? "DAY").toUpperCase()] ?? 0) : 0;
  return Date.now() + (now[1] === "-" ? -offset : offset);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
