import { randomUUID } from "node:crypto";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import { Container, type ErrorPayload } from "./containers.ts";
import { type CrashFault, type CrashFaultInput, CrashFaults } from "./crash-faults.ts";
import {
  checkConfiguration,
  configurationOf,
  functionArn,
  invalidParameter,
  LATEST,
  type LambdaFunction,
  lambdaError,
  newRevisionId,
  notFound,
  parseFunctionName,
  removeCode,
  type SavedFunction,
  unpackCode,
  validation,
} from "./functions.ts";
import { FunctionLogs } from "./logs.ts";
import {
  capitalized,
  configurationInput,
  jsonBody,
  optionalInteger,
  optionalString,
  requiredString,
  zipFileOf,
} from "./params.ts";

const API_PREFIX = "/2015-03-31/functions";
/** Invoke payload quotas: 6 MB request and response for synchronous calls, 1 MB for asynchronous ones (Lambda quotas). */
const MAX_SYNC_PAYLOAD = 6_291_456;
const MAX_ASYNC_PAYLOAD = 1_048_576;
/** The 4 KB of log that `LogType: Tail` returns. */
const TAIL_BYTES = 4096;

/** A test or fault hook run in the sandbox process before an invocation is dispatched to a container. */
export type BeforeInvokeHook = (payload: unknown) => void | Promise<void>;

export interface InvokeRequest {
  /** A name, `name:qualifier`, partial ARN or ARN, as Invoke's FunctionName. */
  functionName: string;
  qualifier?: string;
  /** The event as JSON text; "" means `{}`. */
  payload: string;
}

export interface InvokeResult {
  requestId: string;
  executedVersion: string;
  /** The function's result as JSON text, or the error document when `functionError` is set. */
  payload: string;
  functionError?: "Unhandled";
  /** What the invocation wrote (START … REPORT). */
  log: string;
}

export interface LambdaSandbox {
  handler: ServiceHandler;
  /** `/_sandbox/lambda/...`: function logs (what CloudWatch Logs would hold) and code downloads. */
  admin: ServiceHandler;
  /** Invoke (RequestResponse) in-process, as Step Functions' Lambda tasks use it. API errors throw ServiceError. */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /** Runs `hook` before each invocation of the function; a throwing hook fails the invocation. Returns the unregister. */
  beforeInvoke(functionName: string, hook: BeforeInvokeHook): () => void;
  /** Crashes the function's next `count` (1) invocations `before` or `after` the handler runs (sandbox/FAULTS.md). */
  crash(input: CrashFaultInput): CrashFault;
  /** Pending crashes; `clearCrashes` removes those of one function, or all. */
  crashes(): CrashFault[];
  clearCrashes(functionName?: string): void;
  /** Everything the function's containers wrote, oldest first (bounded; sandbox/LAMBDA.md). */
  logs(functionName: string): string;
  functionNames(): string[];
  /** Terminates every container and removes every unpacked code directory. */
  close(): Promise<void>;
  /** Every function with its code zip, for the data directory (sandbox/persistence/). */
  savedFunctions(): SavedFunction[];
  /** Puts back functions a data directory saved, unpacking their code again. */
  restoreFunctions(saved: SavedFunction[]): void;
}

/** Lambda over its REST-JSON protocol (`/2015-03-31/functions...`). Behaviour: sandbox/LAMBDA.md. */
export function createLambda(deps: { identity: SandboxIdentity; endpoint: () => string }): LambdaSandbox {
  const { identity } = deps;
  const functions = new Map<string, LambdaFunction>();
  const containers = new Map<string, Container[]>();
  const hooks = new Map<string, Set<BeforeInvokeHook>>();
  const crashes = new CrashFaults();
  const nameOf = (functionName: string) => parseFunctionName(functionName, identity).name;
  const logs = new FunctionLogs();
  /** Code directories of replaced or deleted versions, removed once no container runs them any more. */
  const retiredCode = new Set<string>();
  const containerDeps = {
    identity,
    endpoint: deps.endpoint,
    log: (name: string, text: string) => logs.append(name, text),
  };

  const find = (functionName: string, qualifier?: string): LambdaFunction => {
    const ref = parseFunctionName(functionName, identity);
    if (ref.qualifier !== undefined && qualifier !== undefined && ref.qualifier !== qualifier) {
      throw invalidParameter("The derived qualifier from the function name does not match the specified qualifier.");
    }
    const version = qualifier ?? ref.qualifier;
    const fn = ref.here ? functions.get(ref.name) : undefined;
    const arn = functionArn(identity, ref.name) + (version !== undefined ? `:${version}` : "");
    if (!fn || (version !== undefined && version !== LATEST)) throw notFound(arn);
    return fn;
  };

  const acquire = (fn: LambdaFunction): Container => {
    const pool = containers.get(fn.name) ?? [];
    containers.set(fn.name, pool);
    const warm = pool.find((c) => !c.busy && !c.dead && c.generation === fn.generation);
    if (warm) return warm;
    const cold = new Container(fn, containerDeps);
    pool.push(cold);
    return cold;
  };

  /** Ends containers that are dead, or idle but of a replaced version or deleted function; frees their code. */
  const sweep = (name: string): void => {
    const current = functions.get(name);
    const pool = containers.get(name) ?? [];
    const keep = pool.filter((c) => !c.dead && (c.busy || c.generation === current?.generation));
    for (const c of pool) if (!keep.includes(c)) void c.terminate();
    containers.set(name, keep);
    for (const dir of retiredCode) {
      const inUse = [...containers.values()].some((p) => p.some((c) => c.codeDir === dir && !c.dead));
      if (!inUse) {
        retiredCode.delete(dir);
        removeCode(dir);
      }
    }
  };

  const replace = (fn: LambdaFunction, changes: Partial<LambdaFunction>): LambdaFunction => {
    if (changes.code && changes.code.dir !== fn.code.dir) retiredCode.add(fn.code.dir);
    const next = {
      ...fn,
      ...changes,
      lastModified: Date.now(),
      revisionId: newRevisionId(),
      generation: fn.generation + 1,
    };
    functions.set(fn.name, next);
    sweep(fn.name);
    return next;
  };

  async function invoke(request: InvokeRequest): Promise<InvokeResult> {
    const fn = find(request.functionName, request.qualifier);
    const requestId = randomUUID();
    const text = request.payload === "" ? "{}" : request.payload;
    const event = parseEvent(text);
    const failed = (error: ErrorPayload, log = ""): InvokeResult => ({
      requestId,
      executedVersion: LATEST,
      payload: JSON.stringify(error),
      functionError: "Unhandled",
      log,
    });
    for (const hook of hooks.get(fn.name) ?? []) {
      try {
        await hook(event);
      } catch (err) {
        return failed(errorPayloadOf(err));
      }
    }
    const container = acquire(fn);
    let result: Awaited<ReturnType<Container["invoke"]>>;
    try {
      result = await container.invoke(text, requestId, fn.arn, crashes.take(fn.name));
    } finally {
      sweep(fn.name);
    }
    const { outcome, log } = result;
    if ("error" in outcome) return failed(outcome.error, log);
    if (Buffer.byteLength(outcome.payload, "utf8") > MAX_SYNC_PAYLOAD) {
      return failed(
        {
          errorType: "Function.ResponseSizeTooLarge",
          errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD} bytes).`,
        },
        log,
      );
    }
    return { requestId, executedVersion: LATEST, payload: outcome.payload, log };
  }

  const routes = {
    CreateFunction(input: Record<string, unknown>): SandboxResponse {
      const name = requiredString(input, "FunctionName");
      const ref = parseFunctionName(name, identity);
      if (ref.qualifier !== undefined || name.length > 64 || !ref.here || name.includes(":")) {
        throw validation(
          `Value '${name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64 and be a name`,
        );
      }
      const config = configurationInput(input);
      for (const member of ["runtime", "role", "handler"] as const) {
        if (config[member] === undefined) {
          throw invalidParameter(`${capitalized(member)} is required for .zip file package type.`);
        }
      }
      checkConfiguration(config);
      if (functions.has(name)) {
        throw lambdaError("ResourceConflictException", 409, `Function already exist: ${name}`);
      }
      const code = unpackCode(zipFileOf(input.Code));
      const fn: LambdaFunction = {
        name,
        arn: functionArn(identity, name),
        runtime: config.runtime ?? "",
        role: config.role ?? "",
        handler: config.handler ?? "",
        description: config.description ?? "",
        timeout: config.timeout ?? 3,
        memorySize: config.memorySize ?? 128,
        environment: config.environment ?? {},
        code,
        lastModified: Date.now(),
        revisionId: newRevisionId(),
        generation: 0,
      };
      functions.set(name, fn);
      return json(201, configurationOf(fn));
    },
    ListFunctions(req: SandboxRequest): SandboxResponse {
      const maxItems = optionalInteger(req.query.get("MaxItems"), "maxItems", 1, 10_000) ?? 50;
      const marker = req.query.get("Marker");
      const names = [...functions.keys()].sort();
      let start = 0;
      if (marker !== null) {
        const after = Buffer.from(marker, "base64url").toString("utf8");
        start = names.findIndex((n) => n > after);
        if (!marker || start < 0) start = names.length;
      }
      const page = names.slice(start, start + maxItems);
      const more = start + maxItems < names.length;
      return json(200, {
        Functions: page.map((n) => configurationOf(functions.get(n) as LambdaFunction)),
        ...(more && page.length > 0
          ? { NextMarker: Buffer.from(page.at(-1) as string, "utf8").toString("base64url") }
          : {}),
      });
    },
    GetFunction(fn: LambdaFunction): SandboxResponse {
      const location = `${deps.endpoint()}/_sandbox/lambda/code?function=${encodeURIComponent(fn.name)}`;
      return json(200, { Configuration: configurationOf(fn), Code: { RepositoryType: "S3", Location: location } });
    },
    UpdateFunctionCode(fn: LambdaFunction, input: Record<string, unknown>): SandboxResponse {
      checkRevision(fn, input);
      if (input.Publish === true) throw invalidParameter("The sandbox does not publish function versions.");
      const code = unpackCode(zipFileOf(input));
      if (input.DryRun === true) {
        removeCode(code.dir);
        return json(200, configurationOf(fn));
      }
      return json(200, configurationOf(replace(fn, { code })));
    },
    UpdateFunctionConfiguration(fn: LambdaFunction, input: Record<string, unknown>): SandboxResponse {
      checkRevision(fn, input);
      const config = configurationInput(input);
      checkConfiguration(config);
      const changes = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
      return json(200, configurationOf(replace(fn, changes)));
    },
    DeleteFunction(fn: LambdaFunction): SandboxResponse {
      functions.delete(fn.name);
      retiredCode.add(fn.code.dir);
      sweep(fn.name);
      return { status: 204 };
    },
    async Invoke(req: SandboxRequest, functionName: string, qualifier: string | undefined): Promise<SandboxResponse> {
      const type = header(req, "x-amz-invocation-type") ?? "RequestResponse";
      if (!["RequestResponse", "Event", "DryRun"].includes(type)) {
        throw validation(
          `Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
        );
      }
      const limit = type === "Event" ? MAX_ASYNC_PAYLOAD : MAX_SYNC_PAYLOAD;
      if (req.body.length > limit) {
        throw lambdaError(
          "RequestTooLargeException",
          413,
          `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
        );
      }
      const payload = req.body.toString("utf8");
      find(functionName, qualifier);
      parseEvent(payload === "" ? "{}" : payload);
      if (type === "DryRun") return { status: 204 };
      if (type === "Event") {
        // Asynchronous invocation: accepted now, run in the background; failures only show in the log.
        void invoke({ functionName, qualifier, payload }).catch(() => undefined);
        return { status: 202 };
      }
      const result = await invoke({ functionName, qualifier, payload });
      const tail = header(req, "x-amz-log-type") === "Tail";
      return {
        status: 200,
        headers: {
          "content-type": "application/json",
          "x-amz-executed-version": result.executedVersion,
          ...(result.functionError ? { "x-amz-function-error": result.functionError } : {}),
          ...(tail ? { "x-amz-log-result": tailOf(result.log) } : {}),
        },
        body: result.payload,
      };
    },
  };

  const handler: ServiceHandler = async (req) => {
    if (req.rawPath !== API_PREFIX && !req.rawPath.startsWith(`${API_PREFIX}/`)) return undefined;
    try {
      const rest = req.rawPath.slice(API_PREFIX.length).replace(/^\//, "");
      if (rest === "") {
        if (req.method === "POST") return routes.CreateFunction(jsonBody(req));
        if (req.method === "GET") return routes.ListFunctions(req);
        throw unknownOperation(req);
      }
      const [encodedName = "", sub, ...extra] = rest.split("/");
      if (extra.length > 0) throw unknownOperation(req);
      const functionName = decodeURIComponent(encodedName);
      const qualifier = req.query.get("Qualifier") ?? undefined;
      const route = `${req.method} ${sub ?? ""}`;
      if (route === "POST invocations") return await routes.Invoke(req, functionName, qualifier);
      if (route === "DELETE " && qualifier === LATEST) {
        throw invalidParameter("$LATEST version cannot be deleted without deleting the function.");
      }
      const handlers: Record<string, () => SandboxResponse> = {
        "GET ": () => routes.GetFunction(find(functionName, qualifier)),
        "GET configuration": () => configurationResponse(find(functionName, qualifier)),
        "PUT configuration": () => routes.UpdateFunctionConfiguration(find(functionName), jsonBody(req)),
        "PUT code": () => routes.UpdateFunctionCode(find(functionName), jsonBody(req)),
        "DELETE ": () => routes.DeleteFunction(find(functionName, qualifier)),
      };
      const run = handlers[route];
      if (!run) throw unknownOperation(req);
      return run();
    } catch (err) {
      if (err instanceof ServiceError) return errorResponse(err);
      throw err;
    }
  };

  const admin: ServiceHandler = async (req) => {
    const crashAdmin = crashes.admin(req, nameOf);
    if (crashAdmin) return crashAdmin;
    const name = req.query.get("function") ?? "";
    if (req.method === "GET" && req.rawPath === "/_sandbox/lambda/logs") {
      return json(200, { functionName: name, log: logs.text(name) });
    }
    if (req.method === "GET" && req.rawPath === "/_sandbox/lambda/code") {
      const fn = functions.get(name);
      if (!fn) return json(404, { error: "ResourceNotFoundException", message: `Function not found: ${name}` });
      return { status: 200, headers: { "content-type": "application/zip" }, body: fn.code.zip };
    }
    return undefined;
  };

  return {
    handler,
    admin,
    invoke,
    beforeInvoke(functionName, hook) {
      const name = parseFunctionName(functionName, identity).name;
      const set = hooks.get(name) ?? new Set();
      hooks.set(name, set);
      // A wrapper, so that registering the same function twice gives two independent registrations.
      const entry: BeforeInvokeHook = (payload) => hook(payload);
      set.add(entry);
      return () => {
        set.delete(entry);
      };
    },
    crash: (input) => crashes.add({ ...input, functionName: nameOf(input.functionName) }),
    crashes: () => crashes.list(),
    clearCrashes: (functionName) => crashes.clear(functionName === undefined ? undefined : nameOf(functionName)),
    logs: (functionName) => logs.text(nameOf(functionName)),
    functionNames: () => [...functions.keys()].sort(),
    savedFunctions: () => [...functions.values()].map(({ code, ...fn }) => ({ ...fn, zip: code.zip })),
    restoreFunctions(saved) {
      for (const { zip, ...fn } of saved) functions.set(fn.name, { ...fn, code: unpackCode(zip) });
    },
    async close() {
      const all = [...containers.values()].flat();
      containers.clear();
      await Promise.all(all.map((c) => c.terminate()));
      for (const fn of functions.values()) removeCode(fn.code.dir);
      for (const dir of retiredCode) removeCode(dir);
      retiredCode.clear();
    },
  };
}

function configurationResponse(fn: LambdaFunction): SandboxResponse {
  return json(200, configurationOf(fn));
}

function checkRevision(fn: LambdaFunction, input: Record<string, unknown>): void {
  const revision = optionalString(input, "RevisionId");
  if (revision !== undefined && revision !== fn.revisionId) {
    throw lambdaError(
      "PreconditionFailedException",
      412,
      "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    );
  }
}

/** The event must be JSON: Lambda refuses anything else before any code runs. */
function parseEvent(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw lambdaError(
      "InvalidRequestContentException",
      400,
      `Could not parse request body into json: ${(err as Error).message}`,
    );
  }
}

/** The runtime's error document for a thrown value (the beforeInvoke hook's). */
function errorPayloadOf(err: unknown): ErrorPayload {
  if (err instanceof Error) {
    return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? "").split("\n") };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

/** The last 4 KB of an invocation's log, base64, as `X-Amz-Log-Result`. */
function tailOf(log: string): string {
  const bytes = Buffer.from(log, "utf8");
  return bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)).toString("base64");
}

function unknownOperation(req: SandboxRequest): ServiceError {
  return lambdaError(
    "UnknownOperationException",
    404,
    `The sandbox does not implement Lambda ${req.method} ${req.rawPath}`,
  );
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** REST-JSON error: the code in `x-amzn-errortype`, the body as Lambda sends it (`Type`, `message`). */
function errorResponse(err: ServiceError): SandboxResponse {
  return {
    status: err.status,
    headers: { "content-type": "application/json", "x-amzn-errortype": err.code },
    body: JSON.stringify({ Type: err.status >= 500 ? "Service" : "User", message: err.message }),
  };
}
