import { invalidRequest } from "./errors.ts";

/**
 * Athena workgroups: `primary` exists from the start with no settings; CreateWorkGroup adds others. A workgroup's
 * configuration decides where results go (EnforceWorkGroupConfiguration: its settings win over the query's) and
 * how many bytes one query may scan (BytesScannedCutoffPerQuery, at least 10,000,000).
 */
export interface EncryptionConfiguration {
  EncryptionOption: "SSE_S3" | "SSE_KMS" | "CSE_KMS";
  KmsKey?: string;
}

export interface ResultConfiguration {
  OutputLocation?: string;
  EncryptionConfiguration?: EncryptionConfiguration;
  ExpectedBucketOwner?: string;
  AclConfiguration?: { S3AclOption: string };
}

export interface WorkGroupConfiguration {
  ResultConfiguration?: ResultConfiguration;
  EnforceWorkGroupConfiguration?: boolean;
  PublishCloudWatchMetricsEnabled?: boolean;
  BytesScannedCutoffPerQuery?: number;
  RequesterPaysEnabled?: boolean;
  EngineVersion?: { SelectedEngineVersion?: string; EffectiveEngineVersion?: string };
  [other: string]: unknown;
}

export interface WorkGroupRecord {
  name: string;
  state: "ENABLED" | "DISABLED";
  description: string | undefined;
  configuration: WorkGroupConfiguration;
  creationTime: Date;
  tags: { Key: string; Value: string }[];
}

export const ENGINE_VERSION = { SelectedEngineVersion: "AUTO", EffectiveEngineVersion: "Athena engine version 3" };
const MIN_CUTOFF = 10_000_000;
const NAME = /^[a-zA-Z0-9._-]{1,128}$/;

export class WorkGroups {
  private readonly groups = new Map<string, WorkGroupRecord>();

  constructor() {
    this.groups.set("primary", {
      name: "primary",
      state: "ENABLED",
      description: undefined,
      configuration: {
        EnforceWorkGroupConfiguration: false,
        PublishCloudWatchMetricsEnabled: false,
        RequesterPaysEnabled: false,
        EngineVersion: ENGINE_VERSION,
      },
      creationTime: new Date(),
      tags: [],
    });
  }

  create(input: Record<string, unknown>): void {
    const name = checkName(input.Name);
    if (this.groups.has(name)) throw invalidRequest("WorkGroup is already created");
    const given = (input.Configuration ?? {}) as WorkGroupConfiguration;
    const cutoff = given.BytesScannedCutoffPerQuery;
    if (cutoff !== undefined && (!Number.isInteger(cutoff) || cutoff < MIN_CUTOFF)) {
      throw invalidRequest(
        `1 validation error detected: Value '${String(cutoff)}' at 'configuration.bytesScannedCutoffPerQuery' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_CUTOFF}`,
      );
    }
    checkOutputLocation(given.ResultConfiguration?.OutputLocation);
    this.groups.set(name, {
      name,
      state: "ENABLED",
      description: typeof input.Description === "string" ? input.Description : undefined,
      configuration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        RequesterPaysEnabled: false,
        ...given,
        EngineVersion: ENGINE_VERSION,
      },
      creationTime: new Date(),
      tags: Array.isArray(input.Tags) ? (input.Tags as { Key: string; Value: string }[]) : [],
    });
  }

  /** The workgroup a request names (`primary` when it names none). */
  get(name: unknown): WorkGroupRecord {
    const n = name === undefined ? "primary" : checkName(name);
    const group = this.groups.get(n);
    if (!group) throw invalidRequest(`WorkGroup ${n} is not found.`);
    return group;
  }

  delete(name: unknown): void {
    const group = this.get(name);
    if (group.name === "primary") throw invalidRequest("Cannot delete primary workgroup");
    this.groups.delete(group.name);
  }

  list(): WorkGroupRecord[] {
    return [...this.groups.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The workgroups as a data directory keeps them (sandbox/persistence/). */
  snapshot(): (Omit<WorkGroupRecord, "creationTime"> & { creationTime: string })[] {
    return this.list().map((g) => ({ ...g, creationTime: g.creationTime.toISOString() }));
  }

  restore(saved: ReturnType<WorkGroups["snapshot"]>): void {
    this.groups.clear();
    for (const g of saved) this.groups.set(g.name, { ...g, creationTime: new Date(g.creationTime) });
  }
}

function checkName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw invalidRequest(
      `1 validation error detected: Value '${String(name)}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}`,
    );
  }
  return name;
}

export function checkOutputLocation(location: string | undefined): void {
  if (location !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(location)) {
    throw invalidRequest(`outputLocation is not a valid S3 path. Provided ${location}`);
  }
}

/** Where and how a query's results are written: the workgroup's settings when it enforces them, else the query's. */
export function effectiveResultConfiguration(
  group: WorkGroupRecord,
  client: ResultConfiguration | undefined,
): ResultConfiguration {
  const wg = group.configuration.ResultConfiguration ?? {};
  if (group.configuration.EnforceWorkGroupConfiguration) return { ...client, ...wg };
  return { ...wg, ...client };
}

export function workGroupView(g: WorkGroupRecord) {
  return {
    Name: g.name,
    State: g.state,
    Configuration: g.configuration,
    ...(g.description !== undefined ? { Description: g.description } : {}),
    CreationTime: g.creationTime.getTime() / 1000,
  };
}
