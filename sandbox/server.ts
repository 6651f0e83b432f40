import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type AthenaSandbox, createAthena } from "./athena/service.ts";
import { type Behaviours, BehavioursError, initialBehaviours, parseBehaviours } from "./behaviours.ts";
import { cloudWatchService } from "./cloudwatch/service.ts";
import { DEFAULT_IDENTITY, type SandboxIdentity } from "./config.ts";
import { createConfigService } from "./configservice/service.ts";
import { createConsole } from "./console/service.ts";
import { FaultInjector } from "./faults/injector.ts";
import {
  decodeAwsChunked,
  isAwsChunked,
  type SandboxRequest,
  type SandboxResponse,
  ServiceError,
  type ServiceHandler,
  splitTarget,
} from "./http.ts";
import { IamAccount } from "./iam/account.ts";
import { iamService } from "./iam/service.ts";
import { KeyRegistry } from "./kms/keys.ts";
import { kmsService } from "./kms/service.ts";
import { createLambda, type LambdaSandbox } from "./lambda/service.ts";
import { DataDirectory } from "./persistence/data-directory.ts";
import { createS3, type S3Sandbox } from "./s3/service.ts";
import { type BatchOperationsSandbox, createBatchOperations } from "./s3control/service.ts";
import { createStepFunctions, type StepFunctionsSandbox } from "./stepfunctions/service.ts";
import { stsService } from "./sts/service.ts";

export interface SandboxOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  identity?: SandboxIdentity;
  /** Batch Operations tasks each job runs per second; the demo slows jobs down so progress can be watched. */
  batchTasksPerSecond?: number;
  /** Keep state in this directory (created if missing) and restore it at start; without it state is in memory only. */
  dataDir?: string;
  /**
   * Switches for AWS behaviour AWS does not document (sandbox/behaviours.ts); unset ones keep their defaults, or
   * what SANDBOX_BEHAVIOURS says.
   */
  behaviours?: Partial<Behaviours>;
  /** Called once per request, for `rekey sandbox --verbose`. */
  onRequest?: (req: SandboxRequest, res: SandboxResponse) => void;
}

export interface Sandbox {
  endpoint: string;
  port: number;
  identity: SandboxIdentity;
  /** The switches in force; change them with `setBehaviours` (or POST /_sandbox/behaviours). */
  behaviours: Readonly<Behaviours>;
  setBehaviours(changes: Partial<Behaviours>): Readonly<Behaviours>;
  kms: KeyRegistry;
  /** IAM's roles, users and managed policies (sandbox/IAM-CLOUDWATCH.md). */
  iam: IamAccount;
  s3: S3Sandbox;
  batch: BatchOperationsSandbox;
  stepFunctions: StepFunctionsSandbox;
  lambda: LambdaSandbox;
  /** Athena: its Glue catalog, workgroups and query executions (sandbox/ATHENA.md). */
  athena: AthenaSandbox;
  /** API-call faults (sandbox/FAULTS.md), also under `/_sandbox/faults`. */
  faults: FaultInjector;
  close(): Promise<void>;
}

/** Starts every emulated service behind one loopback HTTP server. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const identity = options.identity ?? DEFAULT_IDENTITY;
  // One object, shared by every service, changed in place, so a switch applies to whatever happens after it.
  const behaviours = initialBehaviours(options.behaviours);
  const setBehaviours = (changes: Partial<Behaviours>) => Object.assign(behaviours, parseBehaviours(changes));
  const kms = new KeyRegistry(identity);
  const iam = new IamAccount(identity);
  const s3 = createS3({ identity, kms, behaviours });
  let endpoint = "";
  const batch = createBatchOperations({
    identity,
    endpoint: () => endpoint,
    tasksPerSecond: options.batchTasksPerSecond,
    behaviours,
  });
  const lambda = createLambda({ identity, endpoint: () => endpoint });
  const stepFunctions = createStepFunctions({ identity, lambda, behaviours, endpoint: () => endpoint });
  const athena = createAthena({ identity, endpoint: () => endpoint, behaviours });
  const faults = new FaultInjector();
  const consolePages = createConsole({ stepFunctions, batch });
  const data = options.dataDir
    ? DataDirectory.open(options.dataDir, { kms, iam, s3, batch, stepFunctions, lambda, athena })
    : undefined;
  const byService: Record<string, ServiceHandler> = {
    s3: (req) => (req.rawPath.startsWith("/v20180820/") ? batch.handler(req) : s3.handler(req)),
    kms: kmsService(kms),
    sts: stsService(identity),
    iam: iamService(iam),
    monitoring: cloudWatchService({ identity, store: s3.store, behaviours }),
    states: stepFunctions.handler,
    lambda: lambda.handler,
    athena: athena.handler,
    config: createConfigService({ identity, store: s3.store }).handler,
  };
  const admin: ServiceHandler = async (req) => {
    if (req.rawPath === "/_sandbox/health") {
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ok: true, identity }),
      };
    }
    if (req.rawPath === "/_sandbox/behaviours") return behavioursAdmin(req, behaviours, setBehaviours);
    if (req.rawPath.startsWith("/_sandbox/s3/")) return s3.admin(req);
    if (req.rawPath.startsWith("/_sandbox/batch/")) return batch.admin(req);
    if (req.rawPath.startsWith("/_sandbox/stepfunctions/")) return stepFunctions.admin(req);
    if (req.rawPath.startsWith("/_sandbox/lambda/")) return lambda.admin(req);
    if (req.rawPath.startsWith("/_sandbox/faults")) return faults.admin(req);
    if (req.rawPath.startsWith("/_sandbox/athena/")) return athena.admin(req);
    if (req.rawPath.startsWith("/_sandbox/console")) return consolePages(req);
    return undefined;
  };

  const server = http.createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (c: Buffer) => chunks.push(c));
    incoming.on("end", () => {
      void serve(incoming, Buffer.concat(chunks)).then((res) => {
        outgoing.writeHead(res.status, { "x-amz-request-id": requestIdOf(incoming), ...res.headers });
        outgoing.end(incoming.method === "HEAD" ? undefined : res.body);
      });
    });
  });

  const requestIds = new WeakMap<http.IncomingMessage, string>();
  const requestIdOf = (m: http.IncomingMessage) => requestIds.get(m) ?? "";

  async function serve(incoming: http.IncomingMessage, raw: Buffer): Promise<SandboxResponse> {
    const requestId = randomBytes(8).toString("hex").toUpperCase();
    requestIds.set(incoming, requestId);
    const { rawPath, rawQuery } = splitTarget(incoming.url ?? "/");
    let req: SandboxRequest | undefined;
    try {
      const chunked = isAwsChunked(incoming.headers) ? decodeAwsChunked(raw) : undefined;
      req = {
        method: incoming.method ?? "GET",
        rawPath,
        rawQuery,
        query: new URLSearchParams(rawQuery),
        headers: chunked ? { ...incoming.headers, ...chunked.trailers } : incoming.headers,
        body: chunked ? chunked.payload : raw,
        requestId,
      };
      const signing = signingService(req) ?? "s3";
      const isAdmin = rawPath.startsWith("/_sandbox/");
      const handler = isAdmin ? admin : byService[signing];
      const injected = isAdmin ? undefined : faults.intercept(signing, req);
      const res = injected ?? (handler && (await handler(req))) ?? notImplemented(req);
      data?.flush();
      options.onRequest?.(req, res);
      return res;
    } catch (err) {
      const e =
        err instanceof ServiceError
          ? err
          : new ServiceError("InternalError", 500, String((err as Error)?.stack ?? err));
      return {
        status: e.status,
        headers: { "content-type": "application/xml" },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${xmlText(e.message)}</Message><RequestId>${requestId}</RequestId></Error>`,
      };
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  }).catch(async (err) => {
    await data?.close();
    throw err;
  });
  const { port, address } = server.address() as AddressInfo;
  endpoint = `http://${address}:${port}`;
  data?.resumeJobs();

  return {
    endpoint,
    port,
    identity,
    behaviours,
    setBehaviours,
    kms,
    iam,
    s3,
    batch,
    stepFunctions,
    lambda,
    athena,
    faults,
    async close() {
      await data?.close();
      stepFunctions.close();
      batch.close();
      await lambda.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** GET answers the switches in force; POST changes the ones its JSON body names and answers them all. */
function behavioursAdmin(
  req: SandboxRequest,
  current: Behaviours,
  set: (changes: Partial<Behaviours>) => Behaviours,
): SandboxResponse | undefined {
  if (req.method !== "GET" && req.method !== "POST") return undefined;
  if (req.method === "POST") {
    try {
      set(JSON.parse(req.body.toString("utf8") || "{}"));
    } catch (err) {
      const message = err instanceof BehavioursError || err instanceof SyntaxError ? err.message : String(err);
      return {
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ error: "InvalidBehaviours", message }),
      };
    }
  }
  return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(current) };
}

/** The service a request was signed for (SigV4 credential scope), which is how the sandbox tells S3 from STS or KMS. */
function signingService(req: SandboxRequest): string | undefined {
  const auth = req.headers.authorization;
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth ?? "");
  if (scope?.[1]) return scope[1];
  const target = String(req.headers["x-amz-target"] ?? "");
  if (target.startsWith("TrentService.")) return "kms";
  if (target.startsWith("AmazonAthena.")) return "athena";
  if (target.startsWith("GraniteServiceVersion20100801.")) return "monitoring";
  if (target.startsWith("StarlingDoveService.")) return "config";
  return undefined;
}

function notImplemented(req: SandboxRequest): SandboxResponse {
  throw new ServiceError("NotImplemented", 501, `The sandbox does not implement ${req.method} ${req.rawPath}`);
}

function xmlText(s: string): string {
  return s.replace(/[<>&]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&amp;"));
}
