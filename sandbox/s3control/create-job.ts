import { badRequest } from "./errors.ts";
import { booleanField } from "./fields.ts";
import { parseManifestGenerator } from "./generator.ts";
import type { JobRequest, ManifestField, ManifestFormat, ManifestSpec, ReportSpec } from "./model.ts";
import { findOperation, supportedOperations } from "./operations/index.ts";
import { bucketFromArn } from "./operations/types.ts";
import { canonicalJson, child, has, isTree, members, parseXml, text, type XmlTree } from "./xml.ts";

const MANIFEST_FORMATS: readonly ManifestFormat[] = [
  "S3BatchOperations_CSV_20180820",
  "S3InventoryReport_CSV_20161130",
];
const MANIFEST_FIELDS: readonly ManifestField[] = ["Bucket", "Key", "VersionId", "Ignore"];

/** Parses and validates a CreateJob body (any element order). Throws BadRequestException on invalid input. */
export function parseCreateJob(body: string): JobRequest {
  const root = child(parseXml(body), "CreateJobRequest");
  if (!root) throw badRequest("The request body is not a CreateJobRequest document.");
  if (has(root, "ManifestGenerator") && has(root, "Manifest")) {
    throw badRequest("Jobs must be created with either a manifest file or a ManifestGenerator, but not both.");
  }
  if (!has(root, "ManifestGenerator") && !has(root, "Manifest")) {
    throw badRequest("CreateJob requires either Manifest or ManifestGenerator.");
  }
  const operationXml = requireChild(root, "Operation");
  const manifestXml = has(root, "Manifest") ? requireChild(root, "Manifest") : undefined;
  const generatorXml = has(root, "ManifestGenerator") ? requireChild(root, "ManifestGenerator") : undefined;
  const reportXml = requireChild(root, "Report");
  const { name, spec } = parseOperation(operationXml);
  const description = text(root, "Description");
  if (description !== undefined && (description.length < 1 || description.length > 256)) {
    throw badRequest("Description must be 1 to 256 characters.");
  }
  const token = text(root, "ClientRequestToken");
  if (token === undefined || token.length < 1 || token.length > 64) {
    throw badRequest("ClientRequestToken must be 1 to 64 characters.");
  }
  const { ClientRequestToken: _token, ...rest } = root;
  return {
    operationName: name,
    operation: spec,
    ...(manifestXml ? { manifest: parseManifest(manifestXml) } : {}),
    ...(generatorXml ? { generator: parseManifestGenerator(generatorXml) } : {}),
    report: parseReport(reportXml),
    priority: parsePriority(text(root, "Priority")),
    roleArn: parseRoleArn(text(root, "RoleArn")),
    confirmationRequired: booleanField(text(root, "ConfirmationRequired"), "ConfirmationRequired") ?? false,
    ...(description !== undefined ? { description } : {}),
    clientRequestToken: token,
    tags: parseTags(root),
    xml: {
      operation: operationXml,
      ...(manifestXml ? { manifest: manifestXml } : {}),
      ...(generatorXml ? { manifestGenerator: generatorXml } : {}),
      report: reportXml,
    },
    fingerprint: canonicalJson(rest),
  };
}

function requireChild(node: XmlTree, name: string): XmlTree {
  const c = child(node, name);
  if (!c) throw badRequest(`CreateJob requires ${name}.`);
  return c;
}

function parseOperation(op: XmlTree): { name: string; spec: XmlTree } {
  const names = Object.keys(op);
  const [name] = names;
  if (names.length !== 1 || name === undefined) {
    throw badRequest(`Operation must name exactly one operation, got ${names.length}.`);
  }
  const operation = findOperation(name);
  if (!operation) {
    throw badRequest(
      `Operation ${name} is not implemented in the sandbox (supported: ${supportedOperations().join(", ")}).`,
    );
  }
  const spec = child(op, name) ?? {};
  operation.validate(spec);
  return { name, spec };
}

function parseManifest(m: XmlTree): ManifestSpec {
  const spec = child(m, "Spec");
  const location = child(m, "Location");
  const format = text(spec, "Format");
  const manifestFormat = MANIFEST_FORMATS.find((f) => f === format);
  if (!manifestFormat) {
    throw badRequest(`Manifest Spec Format must be one of ${MANIFEST_FORMATS.join(", ")}, got "${format ?? ""}".`);
  }
  const fields = parseFields(members(spec, "Fields"), manifestFormat);
  const arn = text(location, "ObjectArn");
  const etag = text(location, "ETag");
  if (!arn) throw badRequest("Manifest Location requires ObjectArn.");
  if (!etag) throw badRequest("Manifest Location requires ETag.");
  const parsed = /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!parsed?.[1] || !parsed[2]) throw badRequest(`Manifest ObjectArn must be an S3 object ARN, got "${arn}".`);
  const versionId = text(location, "ObjectVersionId");
  return {
    format: manifestFormat,
    fields,
    bucket: parsed[1],
    key: parsed[2],
    etag,
    ...(versionId ? { versionId } : {}),
  };
}

function parseFields(raw: unknown[], format: ManifestFormat): ManifestField[] {
  if (format === "S3InventoryReport_CSV_20161130") return [];
  const fields = raw.map((f) => {
    const found = MANIFEST_FIELDS.find((allowed) => allowed === f);
    if (!found) throw badRequest(`Unknown manifest field "${String(f)}".`);
    return found;
  });
  if (!fields.includes("Bucket") || !fields.includes("Key")) {
    throw badRequest("Manifest Spec Fields for a CSV manifest must include Bucket and Key.");
  }
  for (const f of ["Bucket", "Key", "VersionId"] as const) {
    if (fields.filter((x) => x === f).length > 1) throw badRequest(`Manifest field ${f} appears more than once.`);
  }
  return fields;
}

function parseReport(r: XmlTree): ReportSpec {
  const enabled = booleanField(text(r, "Enabled"), "Report Enabled");
  if (enabled === undefined) throw badRequest("Report requires Enabled.");
  if (!enabled) return { enabled, scope: "AllTasks" };
  const bucketArn = text(r, "Bucket");
  if (!bucketArn) throw badRequest("An enabled Report requires Bucket (a bucket ARN).");
  const format = text(r, "Format");
  if (format !== "Report_CSV_20180820")
    throw badRequest(`Report Format must be Report_CSV_20180820, got "${format ?? ""}".`);
  const scope = text(r, "ReportScope") ?? "AllTasks";
  if (scope !== "AllTasks" && scope !== "FailedTasksOnly") {
    throw badRequest(`ReportScope must be AllTasks or FailedTasksOnly, got "${scope}".`);
  }
  const prefix = text(r, "Prefix");
  return { enabled, bucket: bucketFromArn(bucketArn, "Report Bucket"), scope, ...(prefix ? { prefix } : {}) };
}

function parsePriority(value: string | undefined): number {
  if (value === undefined) throw badRequest("CreateJob requires Priority.");
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 2_147_483_647)
    throw badRequest(`Priority must be 0 to 2147483647, got "${value}".`);
  return n;
}

function parseRoleArn(value: string | undefined): string {
  if (!value) throw badRequest("CreateJob requires RoleArn.");
  if (!/^arn:[^:]+:iam::\d{12}:role\/.+$/.test(value)) throw badRequest(`RoleArn is not an IAM role ARN: "${value}".`);
  return value;
}

function parseTags(root: XmlTree): { key: string; value: string }[] {
  return members(root, "Tags").flatMap((m) =>
    isTree(m) ? [{ key: text(m, "Key") ?? "", value: text(m, "Value") ?? "" }] : [],
  );
}
