import { randomUUID } from "node:crypto";
import { Worker } from "node:worker_threads";
import { SANDBOX_CREDENTIALS, type SandboxIdentity } from "../config.ts";
import type { CrashPoint } from "./crash-faults.ts";
import { LATEST, type LambdaFunction } from "./functions.ts";

/** The JSON error document Lambda's runtime answers a failed invocation with. */
export interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export type ContainerOutcome = { payload: string } | { error: ErrorPayload };

/** What a container needs besides the function: where the sandbox is, and where its output goes. */
export interface ContainerDeps {
  identity: SandboxIdentity;
  endpoint: () => string;
  /** Receives everything the container writes, and the runtime's START/END/REPORT lines. */
  log: (functionName: string, text: string) => void;
}

/** Lambda's limit on the Init phase of an on-demand function (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). */
const INIT_LIMIT_MS = 10_000;
const BOOTSTRAP = new URL("./runtime-bootstrap.mjs", import.meta.url);

/**
 * Host variables a container inherits; nothing else of the sandbox process's environment reaches a function
 * (sandbox/LAMBDA.md, "Environment").
 */
const INHERITED = ["PATH", "TZ", "NODE_OPTIONS"];
const inherited = (name: string) => INHERITED.includes(name) || name.startsWith("AWS_SDK_JS_");

/** A container's whole `process.env`: what the host passes on, the sandbox endpoint, the function's, Lambda's own. */
export function containerEnvironment(
  fn: LambdaFunction,
  deps: Pick<ContainerDeps, "identity" | "endpoint">,
  logStream: string,
  host: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const fromHost = Object.fromEntries(
    Object.entries(host).filter((e): e is [string, string] => inherited(e[0]) && e[1] !== undefined),
  );
  return {
    ...fromHost,
    // So that SDK clients in the function call the sandbox; a function's own variable of that name wins.
    AWS_ENDPOINT_URL: deps.endpoint(),
    ...fn.environment,
    // Runtime-defined variables (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
    _HANDLER: fn.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_REGION: deps.identity.region,
    AWS_DEFAULT_REGION: deps.identity.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: LATEST,
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStream,
    AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
    LAMBDA_TASK_ROOT: fn.code.dir,
  };
}

type Message =
  | { type: "ready" }
  | { type: "init-error"; error: ErrorPayload }
  | { type: "log"; stream: string; text: string }
  | { type: "result"; id: string; payload: string }
  | { type: "error"; id: string; error: ErrorPayload };

/**
 * One execution environment of one function version: a worker thread that loads the handler once (cold start) and
 * then serves invocations one at a time (warm). A timeout, a crash or an init error ends it.
 */
export class Container {
  busy = false;
  dead = false;
  readonly generation: number;
  readonly codeDir: string;
  private readonly worker: Worker;
  private readonly initialized: Promise<ErrorPayload | undefined>;
  private settle: ((outcome: ContainerOutcome) => void) | undefined;
  private invocationLog: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly createdAt = Date.now();
  private requestId: string | undefined;

  constructor(
    private readonly fn: LambdaFunction,
    private readonly deps: ContainerDeps,
  ) {
    this.generation = fn.generation;
    this.codeDir = fn.code.dir;
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
    const logStream = `${day}/[${LATEST}]${randomUUID().replaceAll("-", "")}`;
    this.worker = new Worker(BOOTSTRAP, {
      workerData: { taskRoot: fn.code.dir, handler: fn.handler },
      env: containerEnvironment(fn, deps, logStream),
      // No loader flags of the host (tsx, vitest) leak in: the bootstrap registers its own TypeScript loader.
      execArgv: [],
      stdout: true,
      stderr: true,
    });
    this.worker.stdout.on("data", (chunk: Buffer) => this.write(chunk.toString("utf8")));
    this.worker.stderr.on("data", (chunk: Buffer) => this.write(chunk.toString("utf8")));
    let resolveInit: (error: ErrorPayload | undefined) => void = () => undefined;
    this.initialized = new Promise((resolve) => {
      resolveInit = resolve;
    });
    this.worker.on("message", (message: Message) => {
      if (message.type === "log") this.write(message.text);
      else if (message.type === "ready") resolveInit(undefined);
      else if (message.type === "init-error") resolveInit(message.error);
      else if (message.type === "result") this.finish({ payload: message.payload });
      else if (message.type === "error") this.finish({ error: message.error });
    });
    // An exception nothing caught ends the runtime, as on Lambda; the invocation fails with it.
    this.worker.on("error", (err: Error) => {
      const error = { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? "").split("\n") };
      this.dead = true;
      resolveInit(error);
      this.finish({ error });
    });
    this.worker.on("exit", (code) => {
      this.dead = true;
      // As Lambda reports a runtime process that exited: the request id, then the exit status.
      const prefix = this.requestId ? `RequestId: ${this.requestId} Error: ` : "";
      const errorMessage = `${prefix}Runtime exited with error: exit status ${code}`;
      if (this.settle) this.write(`${errorMessage}\nRuntime.ExitError\n`);
      const error = { errorType: "Runtime.ExitError", errorMessage };
      resolveInit(error);
      this.finish({ error });
    });
  }

  /**
   * Runs one invocation; resolves with the serialized result or the error document, never rejects. `crash` makes the
   * runtime process exit (status 1) before the handler runs or after it returned, an injected fault.
   */
  async invoke(
    event: string,
    requestId: string,
    invokedFunctionArn: string,
    crash?: CrashPoint,
  ): Promise<{ outcome: ContainerOutcome; log: string }> {
    this.busy = true;
    this.requestId = requestId;
    this.invocationLog = [];
    const started = Date.now();
    const timeoutMs = this.fn.timeout * 1000;
    this.write(`START RequestId: ${requestId} Version: ${LATEST}\n`);
    const outcome = await new Promise<ContainerOutcome>((resolve) => {
      this.settle = resolve;
      // The Timeout covers the Invoke phase. Init has its own 10 s; an Init still running then goes on under the
      // function's Timeout, as Lambda retries a slow Init within the first invocation (LAMBDA.md, "Timeout").
      let deadlineMs: number | undefined;
      const startTimeout = () => {
        if (deadlineMs !== undefined || this.settle !== resolve) return deadlineMs;
        deadlineMs = Date.now() + timeoutMs;
        this.timer = setTimeout(() => {
          const seconds = this.fn.timeout.toFixed(2);
          this.write(`${new Date().toISOString()} ${requestId} Task timed out after ${seconds} seconds\n`);
          this.dead = true;
          void this.worker.terminate();
          this.finish({
            error: {
              errorType: "Sandbox.Timedout",
              errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`,
            },
          });
        }, timeoutMs);
        return deadlineMs;
      };
      const initLimit = setTimeout(startTimeout, Math.max(0, this.createdAt + INIT_LIMIT_MS - Date.now()));
      void this.initialized.then((initError) => {
        clearTimeout(initLimit);
        if (this.settle !== resolve) return;
        if (initError) {
          // A failed init leaves no usable environment; the next invocation starts a new one.
          this.dead = true;
          void this.worker.terminate();
          this.finish({ error: initError });
          return;
        }
        const deadline = startTimeout() ?? Date.now() + timeoutMs;
        if (crash === "before") {
          this.worker.postMessage({ type: "exit", code: 1 });
          return;
        }
        this.worker.postMessage({
          type: "invoke",
          id: requestId,
          exitAfter: crash === "after",
          event,
          context: {
            awsRequestId: requestId,
            functionName: this.fn.name,
            functionVersion: LATEST,
            invokedFunctionArn,
            memoryLimitInMB: String(this.fn.memorySize),
            logGroupName: `/aws/lambda/${this.fn.name}`,
            deadlineMs: deadline,
          },
        });
      });
    });
    const duration = (Date.now() - started).toFixed(2);
    this.write(`END RequestId: ${requestId}\n`);
    this.write(
      `REPORT RequestId: ${requestId}\tDuration: ${duration} ms\tBilled Duration: ${Math.ceil(Number(duration))} ms\tMemory Size: ${this.fn.memorySize} MB\n`,
    );
    const log = this.invocationLog.join("");
    this.invocationLog = [];
    this.busy = false;
    this.requestId = undefined;
    return { outcome, log };
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }

  private finish(outcome: ContainerOutcome): void {
    const settle = this.settle;
    this.settle = undefined;
    clearTimeout(this.timer);
    settle?.(outcome);
  }

  private write(text: string): void {
    if (this.busy) this.invocationLog.push(text);
    this.deps.log(this.fn.name, text);
  }
}
