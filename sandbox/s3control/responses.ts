import type { SandboxIdentity } from "../config.ts";
import type { SandboxResponse } from "../http.ts";
import type { BatchEngine, Job } from "./engine.ts";
import { buildXml, element } from "./xml.ts";

const NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/";

export function xmlResponse(root: string, inner: string): SandboxResponse {
  return {
    status: 200,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NAMESPACE}">${inner}</${root}>`,
  };
}

export function jobArn(identity: SandboxIdentity, id: string): string {
  return `arn:aws:s3:${identity.region}:${identity.accountId}:job/${id}`;
}

const iso = (d: Date | undefined) => d?.toISOString();

function progressSummary(engine: BatchEngine, job: Job): string {
  if (job.totalTasks === undefined) return "";
  return (
    "<ProgressSummary>" +
    element("TotalNumberOfTasks", job.totalTasks) +
    element("NumberOfTasksSucceeded", job.succeeded) +
    element("NumberOfTasksFailed", job.failed) +
    `<Timers>${element("ElapsedTimeInActiveSeconds", engine.elapsedActiveSeconds(job))}</Timers>` +
    "</ProgressSummary>"
  );
}

function failureReasons(job: Job): string {
  if (job.failureReasons.length === 0) return "";
  const items = job.failureReasons
    .map((f) => `<member>${element("FailureCode", f.code)}${element("FailureReason", f.reason)}</member>`)
    .join("");
  return `<FailureReasons>${items}</FailureReasons>`;
}

/** `<GeneratedManifestDescriptor>` once the generator has written its manifest. */
function generatedManifestDescriptor(job: Job): string {
  const g = job.generatedManifest;
  if (!g) return "";
  return (
    "<GeneratedManifestDescriptor>" +
    element("Format", g.format) +
    `<Location>${element("ObjectArn", `arn:aws:s3:::${g.bucket}/${g.key}`)}${element("ETag", g.etag)}</Location>` +
    "</GeneratedManifestDescriptor>"
  );
}

/** DescribeJob's `<Job>`: Manifest or ManifestGenerator, Operation and Report are echoed as they were sent. */
export function jobDescriptor(engine: BatchEngine, identity: SandboxIdentity, job: Job): string {
  const r = job.request;
  return (
    "<Job>" +
    element("JobId", job.id) +
    element("ConfirmationRequired", r.confirmationRequired) +
    element("Description", r.description) +
    element("JobArn", jobArn(identity, job.id)) +
    element("Status", job.status) +
    (r.xml.manifest ? buildXml("Manifest", r.xml.manifest) : "") +
    buildXml("Operation", r.xml.operation) +
    element("Priority", r.priority) +
    progressSummary(engine, job) +
    element("StatusUpdateReason", job.statusUpdateReason) +
    failureReasons(job) +
    buildXml("Report", r.xml.report) +
    element("CreationTime", iso(job.creationTime)) +
    element("TerminationDate", iso(job.terminationDate)) +
    element("RoleArn", r.roleArn) +
    element("SuspendedDate", iso(job.suspendedDate)) +
    element("SuspendedCause", job.suspendedCause) +
    (r.xml.manifestGenerator ? buildXml("ManifestGenerator", r.xml.manifestGenerator) : "") +
    generatedManifestDescriptor(job) +
    "</Job>"
  );
}

/** One ListJobs `<member>`. */
export function jobListItem(engine: BatchEngine, job: Job): string {
  return (
    "<member>" +
    element("JobId", job.id) +
    element("Description", job.request.description) +
    element("Operation", job.request.operationName) +
    element("Priority", job.request.priority) +
    element("Status", job.status) +
    element("CreationTime", iso(job.creationTime)) +
    element("TerminationDate", iso(job.terminationDate)) +
    progressSummary(engine, job) +
    "</member>"
  );
}

/** Job internals for the admin endpoint (tests, `rekey sandbox --verbose`). */
export function jobInternals(engine: BatchEngine, job: Job) {
  return {
    jobId: job.id,
    status: job.status,
    operation: job.request.operationName,
    priority: job.request.priority,
    clientRequestToken: job.request.clientRequestToken,
    manifest: job.request.manifest,
    manifestGenerator: job.request.generator,
    generatedManifest: job.generatedManifest,
    report: job.request.report,
    creationTime: iso(job.creationTime),
    terminationDate: iso(job.terminationDate),
    totalTasks: job.totalTasks,
    succeeded: job.succeeded,
    failed: job.failed,
    elapsedActiveSeconds: engine.elapsedActiveSeconds(job),
    failureReasons: job.failureReasons,
    statusUpdateReason: job.statusUpdateReason,
    reportKeys: job.reportKeys,
    /** In the order the tasks finished. */
    results: job.results.map((r) => ({
      bucket: r.task.bucket,
      key: r.task.key,
      rawKey: r.task.rawKey,
      versionId: r.task.versionId,
      status: r.status,
      httpStatus: r.httpStatus,
      errorCode: r.errorCode,
      message: r.message,
    })),
  };
}
