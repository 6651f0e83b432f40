import type { S3Client } from "@aws-sdk/client-s3";
import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import { BATCH_OPERATIONS_USER_AGENT, sandboxS3Client } from "../sdk-clients.ts";
import type { BatchBackend } from "./backend.ts";
import { parseCreateJob } from "./create-job.ts";
import { BatchEngine, type Job } from "./engine.ts";
import { accessDenied, badRequest, invalidNextToken, invalidRequest } from "./errors.ts";
import { JOB_STATUSES, type JobStatus } from "./model.ts";
import { jobDescriptor, jobInternals, jobListItem, xmlResponse } from "./responses.ts";
import { s3Backend } from "./s3-backend.ts";
import { element } from "./xml.ts";

export interface BatchOperationsSandbox {
  /** S3 Control requests (`/v20180820/...`, signed for service s3). */
  handler: ServiceHandler;
  /** `/_sandbox/batch/...` admin endpoints (sandbox/BATCH-OPERATIONS.md). */
  admin: ServiceHandler;
  /** Job state, for tests that want more than DescribeJob shows. */
  engine: BatchEngine;
  /** Stops every job's timers; jobs stay where they are. */
  close(): void;
}

export interface BatchOperationsContext {
  identity: SandboxIdentity;
  /** The sandbox's own endpoint, known only after it listens. */
  endpoint: () => string;
  tasksPerSecond?: number;
  /** Replaces the S3-backed object access (unit tests). */
  backend?: BatchBackend;
  /** Tasks in flight per job when no rate is set. */
  concurrency?: number;
  /** The sandbox's switches for undocumented behaviour (sandbox/behaviours.ts); defaults when unset. */
  behaviours?: Behaviours;
}

export function createBatchOperations(ctx: BatchOperationsContext): BatchOperationsSandbox {
  let s3: S3Client | undefined;
  const client = () => {
    // Batch Operations' own S3 calls: with the SDK's default retries, as before, so a kept-alive loopback connection
    // the server closed mid-reuse (ECONNRESET) is retried instead of becoming a failed task in the report.
    s3 ??= sandboxS3Client(
      { endpoint: ctx.endpoint(), region: ctx.identity.region },
      { maxAttempts: 3, customUserAgent: BATCH_OPERATIONS_USER_AGENT },
    );
    return s3;
  };
  const engine = new BatchEngine({
    identity: ctx.identity,
    backend: ctx.backend ?? s3Backend(client, ctx.endpoint),
    ...(ctx.tasksPerSecond !== undefined ? { tasksPerSecond: ctx.tasksPerSecond } : {}),
    ...(ctx.concurrency !== undefined ? { concurrency: ctx.concurrency } : {}),
    ...(ctx.behaviours ? { behaviours: ctx.behaviours } : {}),
  });
  return {
    handler: (req) => handleControl(engine, ctx.identity, req),
    admin: (req) => handleAdmin(engine, req),
    engine,
    close() {
      engine.close();
      s3?.destroy();
    },
  };
}

const JOBS = "/v20180820/jobs";

async function handleControl(
  engine: BatchEngine,
  identity: SandboxIdentity,
  req: SandboxRequest,
): Promise<SandboxResponse | undefined> {
  const route = matchRoute(req);
  if (!route) return undefined;
  checkAccount(identity, req);
  switch (route.name) {
    case "CreateJob": {
      const job = engine.createJob(parseCreateJob(req.body.toString("utf8")));
      return xmlResponse("CreateJobResult", element("JobId", job.id));
    }
    case "ListJobs":
      return listJobs(engine, req);
    case "DescribeJob":
      return xmlResponse("DescribeJobResult", jobDescriptor(engine, identity, engine.getJob(route.jobId)));
    case "UpdateJobStatus":
      return updateJobStatus(engine, route.jobId, req);
    case "UpdateJobPriority":
      return updateJobPriority(engine, route.jobId, req);
  }
}

/** The S3 Control operation of a Batch Operations request (`CreateJob`, `DescribeJob`, ...), as routed here. */
export function batchOperationName(req: SandboxRequest): string {
  return matchRoute(req)?.name ?? "Unknown";
}

type Route =
  | { name: "CreateJob" | "ListJobs" }
  | { name: "DescribeJob" | "UpdateJobStatus" | "UpdateJobPriority"; jobId: string };

function matchRoute(req: SandboxRequest): Route | undefined {
  if (req.rawPath === JOBS || req.rawPath === `${JOBS}/`) {
    if (req.method === "POST") return { name: "CreateJob" };
    if (req.method === "GET") return { name: "ListJobs" };
    return undefined;
  }
  const m = /^\/v20180820\/jobs\/([^/]+)(\/status|\/priority)?$/.exec(req.rawPath);
  const jobId = m?.[1] ? decodeURIComponent(m[1]) : undefined;
  if (!m || jobId === undefined) return undefined;
  if (m[2] === undefined && req.method === "GET") return { name: "DescribeJob", jobId };
  if (m[2] === "/status" && req.method === "POST") return { name: "UpdateJobStatus", jobId };
  if (m[2] === "/priority" && req.method === "POST") return { name: "UpdateJobPriority", jobId };
  return undefined;
}

/** Jobs live in the sandbox's one account; another account id is refused (ASSUMPTIONS.md). */
function checkAccount(identity: SandboxIdentity, req: SandboxRequest): void {
  const account = header(req, "x-amz-account-id");
  if (account === undefined || account === "") {
    throw invalidRequest("The x-amz-account-id header is required.");
  }
  if (account !== identity.accountId) {
    throw accessDenied(`Access Denied: account ${account} is not the sandbox account ${identity.accountId}.`);
  }
}

function listJobs(engine: BatchEngine, req: SandboxRequest): SandboxResponse {
  const wanted = req.query
    .getAll("jobStatuses")
    .flatMap((s) => s.split(","))
    .filter((s) => s !== "");
  const statuses = wanted.map((s) => {
    const found = JOB_STATUSES.find((j) => j === s);
    if (!found) throw invalidRequest(`Unknown job status "${s}".`);
    return found;
  });
  const maxResults = parseMaxResults(req.query.get("maxResults"));
  const start = parseNextToken(req.query.get("nextToken"));
  const matching = [...engine.jobs.values()]
    // A job still in its registration lag (sandbox/behaviours.ts) is not listed either.
    .filter((j) => engine.isRegistered(j) && (statuses.length === 0 || statuses.includes(j.status)))
    .sort(newestFirst);
  const page = matching.slice(start, start + maxResults);
  const end = start + page.length;
  const next = end < matching.length ? element("NextToken", Buffer.from(`jobs:${end}`).toString("base64url")) : "";
  const items = page.map((j) => jobListItem(engine, j)).join("");
  return xmlResponse("ListJobsResult", `${next}<Jobs>${items}</Jobs>`);
}

function newestFirst(a: Job, b: Job): number {
  return b.creationTime.getTime() - a.creationTime.getTime() || a.id.localeCompare(b.id);
}

function parseMaxResults(value: string | null): number {
  if (value === null) return 1000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw invalidRequest(`maxResults must be 0 to 1000, got "${value}".`);
  return n === 0 ? 1000 : n;
}

function parseNextToken(token: string | null): number {
  if (token === null || token === "") return 0;
  const m = /^jobs:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m?.[1]) throw invalidNextToken();
  return Number(m[1]);
}

function updateJobStatus(engine: BatchEngine, jobId: string, req: SandboxRequest): SandboxResponse {
  const requested = req.query.get("requestedJobStatus");
  if (requested !== "Ready" && requested !== "Cancelled") {
    throw badRequest(`requestedJobStatus must be Ready or Cancelled, got "${requested ?? ""}".`);
  }
  const reason = req.query.get("statusUpdateReason") ?? undefined;
  if (reason !== undefined && (reason.length < 1 || reason.length > 256)) {
    throw badRequest("statusUpdateReason must be 1 to 256 characters.");
  }
  const job = engine.updateStatus(jobId, requested, reason);
  return xmlResponse(
    "UpdateJobStatusResult",
    element("JobId", job.id) + element("Status", job.status) + element("StatusUpdateReason", job.statusUpdateReason),
  );
}

function updateJobPriority(engine: BatchEngine, jobId: string, req: SandboxRequest): SandboxResponse {
  const value = req.query.get("priority") ?? "";
  if (!/^\d+$/.test(value) || Number(value) > 2_147_483_647) {
    throw badRequest(`priority must be 0 to 2147483647, got "${value}".`);
  }
  const job = engine.updatePriority(jobId, Number(value));
  return xmlResponse("UpdateJobPriorityResult", element("JobId", job.id) + element("Priority", job.request.priority));
}

async function handleAdmin(engine: BatchEngine, req: SandboxRequest): Promise<SandboxResponse | undefined> {
  const path = req.rawPath.replace(/^\/_sandbox\/batch/, "");
  if (path === "/jobs" && req.method === "GET") {
    return json(200, { jobs: [...engine.jobs.values()].sort(newestFirst).map((j) => jobInternals(engine, j)) });
  }
  const jobMatch = /^\/jobs\/([^/]+)$/.exec(path);
  if (jobMatch?.[1] && req.method === "GET") {
    const job = engine.jobs.get(decodeURIComponent(jobMatch[1]));
    return job ? json(200, jobInternals(engine, job)) : json(404, { error: "NoSuchJob" });
  }
  if (path === "/faults") return faults(engine, req);
  if (path === "/settings" && req.method === "POST") {
    const body = readJson(req);
    const tps = body.tasksPerSecond;
    if (tps !== null && (typeof tps !== "number" || !(tps > 0))) {
      throw new ServiceError("InvalidRequest", 400, "tasksPerSecond must be a positive number or null.");
    }
    engine.tasksPerSecond = tps ?? undefined;
    return json(200, { tasksPerSecond: engine.tasksPerSecond ?? null });
  }
  return undefined;
}

function faults(engine: BatchEngine, req: SandboxRequest): SandboxResponse | undefined {
  if (req.method === "GET") return json(200, { failKeys: engine.taskFaults.list() });
  if (req.method === "DELETE") return json(200, { failKeys: engine.taskFaults.replace([]) });
  if (req.method !== "POST") return undefined;
  const body = readJson(req);
  try {
    return json(200, { failKeys: engine.taskFaults.replace(Array.isArray(body.failKeys) ? body.failKeys : []) });
  } catch (err) {
    if (err instanceof ServiceError) return json(err.status, { error: err.code, message: err.message });
    throw err;
  }
}

function readJson(req: SandboxRequest): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(req.body.toString("utf8") || "{}");
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    throw new ServiceError("InvalidRequest", 400, "The admin request body is not JSON.");
  }
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export type { JobStatus };
