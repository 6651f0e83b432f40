import {
  CreateFunctionCommand,
  type CreateFunctionCommandInput,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ListFunctionsCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxAdmin } from "../../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { shimZip, zipOf } from "./fixtures/lambda-code.ts";

const ROLE = "arn:aws:iam::123456789012:role/sandbox-test";

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the call to fail");
}

const payloadOf = (out: InvokeCommandOutput) => JSON.parse(Buffer.from(out.Payload ?? []).toString("utf8"));

describe("Lambda in the sandbox", () => {
  let sandbox: Sandbox;
  let lambda: LambdaClient;

  const create = (name: string, handler: string, extra: Partial<CreateFunctionCommandInput> = {}) =>
    lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: "nodejs22.x",
        Role: ROLE,
        Handler: handler,
        Code: { ZipFile: shimZip() },
        ...extra,
      }),
    );
  const invoke = (name: string, event: unknown = {}) =>
    lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    lambda = new LambdaClient({
      region: sandbox.identity.region,
      endpoint: sandbox.endpoint,
      credentials: SANDBOX_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    lambda?.destroy();
    await sandbox?.close();
  });

  it("creates, gets, lists, updates and deletes a function", async () => {
    const created = await create("crud-fn", "index.echo", {
      Description: "echoes",
      Timeout: 10,
      MemorySize: 256,
      Environment: { Variables: { STAGE: "test" } },
    });
    const arn = `arn:aws:lambda:${sandbox.identity.region}:${sandbox.identity.accountId}:function:crud-fn`;
    expect(created).toMatchObject({
      FunctionName: "crud-fn",
      FunctionArn: arn,
      Runtime: "nodejs22.x",
      Role: ROLE,
      Handler: "index.echo",
      Description: "echoes",
      Timeout: 10,
      MemorySize: 256,
      Version: "$LATEST",
      Environment: { Variables: { STAGE: "test" } },
      State: "Active",
      PackageType: "Zip",
    });
    expect(created.CodeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(created.CodeSize).toBeGreaterThan(0);

    const { $metadata, ...configuration } = created;
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: arn }));
    expect(got.Configuration).toEqual(configuration);
    expect(got.Code?.RepositoryType).toBe("S3");
    const zip = await fetch(got.Code?.Location ?? "");
    expect(Buffer.from(await zip.arrayBuffer()).length).toBe(created.CodeSize);

    expect(await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "crud-fn" }))).toMatchObject(
      configuration,
    );
    const listed = await lambda.send(new ListFunctionsCommand({}));
    expect(listed.Functions?.map((f) => f.FunctionName)).toContain("crud-fn");

    const configured = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: "crud-fn",
        Handler: "index.counter",
        Timeout: 5,
        Environment: { Variables: { STAGE: "prod" } },
      }),
    );
    expect(configured).toMatchObject({ Handler: "index.counter", Timeout: 5, MemorySize: 256 });
    expect(configured.Environment?.Variables).toEqual({ STAGE: "prod" });
    expect(configured.RevisionId).not.toBe(created.RevisionId);
    expect(payloadOf(await invoke("crud-fn"))).toEqual({ invocations: 1 });

    const recoded = await lambda.send(
      new UpdateFunctionCodeCommand({
        FunctionName: "crud-fn",
        ZipFile: zipOf({ "index.mjs": "export const counter = async () => ({ replaced: true });\n" }),
      }),
    );
    expect(recoded.CodeSha256).not.toBe(created.CodeSha256);
    // New code: a new container, not the warm one of the old code.
    expect(payloadOf(await invoke("crud-fn"))).toEqual({ replaced: true });

    await lambda.send(new DeleteFunctionCommand({ FunctionName: "crud-fn" }));
    expect(await errorOf(lambda.send(new GetFunctionCommand({ FunctionName: "crud-fn" })))).toMatchObject({
      name: "ResourceNotFoundException",
      status: 404,
      message: `Function not found: ${arn}`,
    });
    expect(await errorOf(invoke("crud-fn"))).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
  });

  it("pages ListFunctions with MaxItems and Marker", async () => {
    for (const n of ["page-a", "page-b", "page-c"]) await create(n, "index.echo");
    const names: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 2, Marker }));
      expect(page.Functions?.length).toBeLessThanOrEqual(2);
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ""));
      Marker = page.NextMarker;
    } while (Marker);
    expect(names.filter((n) => n.startsWith("page-"))).toEqual(["page-a", "page-b", "page-c"]);
  });

  it("refuses duplicate names and invalid parameters with Lambda's errors", async () => {
    await create("dup-fn", "index.echo");
    expect(await errorOf(create("dup-fn", "index.echo"))).toMatchObject({
      name: "ResourceConflictException",
      status: 409,
      message: "Function already exist: dup-fn",
    });
    expect(await errorOf(create("old-runtime", "index.echo", { Runtime: "nodejs16.x" }))).toMatchObject({
      name: "InvalidParameterValueException",
      status: 400,
    });
    expect(
      await errorOf(create("bad-zip", "index.echo", { Code: { ZipFile: Buffer.from("not a zip") } })),
    ).toMatchObject({ name: "InvalidParameterValueException", message: expect.stringMatching(/Could not unzip/) });
    expect(
      await errorOf(create("reserved", "index.echo", { Environment: { Variables: { AWS_REGION: "eu-west-1" } } })),
    ).toMatchObject({ name: "InvalidParameterValueException", message: expect.stringMatching(/reserved keys/) });
    expect(
      await errorOf(lambda.send(new InvokeCommand({ FunctionName: "dup-fn", Payload: Buffer.from("{not json") }))),
    ).toMatchObject({ name: "InvalidRequestContentException", status: 400 });
  });

  it("invokes a TypeScript module through a .mjs shim, warm containers keeping their state", async () => {
    await create("echo-fn", "index.echo");
    const out = await invoke("echo-fn", { hello: "world" });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe("$LATEST");
    const result = payloadOf(out);
    expect(result).toMatchObject({ event: { hello: "world" }, functionName: "echo-fn" });
    expect(result.remainingMs).toBeGreaterThan(0);
    expect(result.remainingMs).toBeLessThanOrEqual(3000);

    await create("count-fn", "index.counter");
    expect(payloadOf(await invoke("count-fn"))).toEqual({ invocations: 1 });
    expect(payloadOf(await invoke("count-fn"))).toEqual({ invocations: 2 });
    // Two dispatched at once (in-process, so neither can finish before the other starts): the warm container
    // takes one, a new container the other.
    const both = await Promise.all([
      sandbox.lambda.invoke({ functionName: "count-fn", payload: "{}" }),
      sandbox.lambda.invoke({ functionName: "count-fn", payload: "{}" }),
    ]);
    expect(both.map((o) => JSON.parse(o.payload).invocations).sort()).toEqual([1, 3]);
  });

  it("loads .ts, CommonJS .js and nested handler paths as the Node.js runtime resolves Handler", async () => {
    await create("ts-fn", "src/app.handlers.main", {
      Code: {
        ZipFile: zipOf({
          "src/app.ts":
            "const shout = (s: string): string => s.toUpperCase();\n" +
            "export const handlers = { main: async (e: { s: string }) => shout(e.s) };\n",
        }),
      },
    });
    expect(payloadOf(await invoke("ts-fn", { s: "hi" }))).toBe("HI");
    await create("cjs-fn", "index.handler", {
      Code: { ZipFile: zipOf({ "index.js": "exports.handler = async () => ({ cjs: typeof require });\n" }) },
    });
    expect(payloadOf(await invoke("cjs-fn"))).toEqual({ cjs: "function" });
    await create("cb-fn", "index.callback");
    expect(payloadOf(await invoke("cb-fn", { n: 1 }))).toEqual({
      via: "callback",
      event: { n: 1 },
      functionName: "cb-fn",
    });
  });

  it("answers a thrown error as an Unhandled function error with Lambda's error document", async () => {
    await create("fail-fn", "index.fail");
    const out = await invoke("fail-fn", { name: "BucketGone", message: "no such bucket" });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe("Unhandled");
    const error = payloadOf(out);
    expect(Object.keys(error).sort()).toEqual(["errorMessage", "errorType", "trace"]);
    expect(error).toMatchObject({ errorType: "BucketGone", errorMessage: "no such bucket" });
    expect(error.trace[0]).toBe("BucketGone: no such bucket");

    await create("missing-export", "index.nope");
    expect(payloadOf(await invoke("missing-export"))).toMatchObject({
      errorType: "Runtime.HandlerNotFound",
      errorMessage: "index.nope is undefined or not exported",
    });
    await create("missing-module", "nowhere.handler");
    expect(payloadOf(await invoke("missing-module"))).toMatchObject({ errorType: "Runtime.ImportModuleError" });
  });

  it("serializes results as JSON.stringify does, and fails on what it cannot serialize", async () => {
    await create("date-fn", "index.date");
    expect(payloadOf(await invoke("date-fn"))).toEqual({ at: "2024-01-02T03:04:05.000Z" });
    await create("nothing-fn", "index.nothing");
    expect(Buffer.from((await invoke("nothing-fn")).Payload ?? []).toString()).toBe("null");
    await create("bigint-fn", "index.bigint");
    const out = await invoke("bigint-fn");
    expect(out.FunctionError).toBe("Unhandled");
    expect(payloadOf(out)).toMatchObject({
      errorType: "Runtime.JSONStringifyError",
      errorMessage: "Unable to stringify response body",
    });
  });

  it("times a slow invocation out as Sandbox.Timedout and starts a new container afterwards", async () => {
    await create("slow-fn", "index.slow", { Timeout: 1 });
    const out = await invoke("slow-fn", { ms: 5000 });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payloadOf(out)).toMatchObject({
      errorType: "Sandbox.Timedout",
      errorMessage: expect.stringMatching(/Error: Task timed out after 1\.00 seconds$/),
    });
    expect(payloadOf(await invoke("slow-fn", { ms: 1 }))).toEqual({ slept: 1 });
    expect(sandbox.lambda.logs("slow-fn")).toMatch(/Task timed out after 1\.00 seconds/);
  });

  it("gives a cold start's Init its own time: a module that loads longer than the Timeout still answers", async () => {
    // Init is limited to 10 s apart from the function's Timeout (lambda-runtime-environment.html); a plain .mjs
    // handler that spends 1.5 s loading, with a 1 s Timeout, must not time out.
    const code = zipOf({
      "index.mjs":
        "await new Promise((r) => setTimeout(r, 1500));\nexport const handler = async () => ({ loaded: true });\n",
    });
    await create("slow-init-fn", "index.handler", { Timeout: 1, Code: { ZipFile: code } });
    expect(payloadOf(await invoke("slow-init-fn"))).toEqual({ loaded: true });
  });

  it("gives each function only its own environment, Lambda's variables and the sandbox endpoint", async () => {
    process.env.SANDBOX_TEST_SECRET = "host-only";
    try {
      await create("env-a", "index.env", { Environment: { Variables: { ONLY_A: "a" } } });
      await create("env-b", "index.env", { Environment: { Variables: { ONLY_B: "b" } }, MemorySize: 512 });
      const a = payloadOf(await invoke("env-a")).env as Record<string, string>;
      const b = payloadOf(await invoke("env-b")).env as Record<string, string>;
      expect(a.ONLY_A).toBe("a");
      expect(a.ONLY_B).toBeUndefined();
      expect(b.ONLY_B).toBe("b");
      expect(b.ONLY_A).toBeUndefined();
      for (const env of [a, b]) {
        expect(env.SANDBOX_TEST_SECRET).toBeUndefined();
        expect(env.AWS_ENDPOINT_URL).toBe(sandbox.endpoint);
        expect(env.AWS_REGION).toBe(sandbox.identity.region);
        expect(env.AWS_DEFAULT_REGION).toBe(sandbox.identity.region);
        expect(env.AWS_ACCESS_KEY_ID).toBe(SANDBOX_CREDENTIALS.accessKeyId);
        expect(env.AWS_SECRET_ACCESS_KEY).toBe(SANDBOX_CREDENTIALS.secretAccessKey);
        expect(env.AWS_LAMBDA_FUNCTION_VERSION).toBe("$LATEST");
        // vitest's config sets this one; variables starting with AWS_SDK_JS_ pass through.
        expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe("true");
        const allowed = /^(AWS_|_HANDLER$|LAMBDA_TASK_ROOT$|PATH$|TZ$|NODE_OPTIONS$|ONLY_[AB]$)/;
        expect(Object.keys(env).filter((k) => !allowed.test(k))).toEqual([]);
      }
      expect(a.AWS_LAMBDA_FUNCTION_NAME).toBe("env-a");
      expect(b.AWS_LAMBDA_FUNCTION_NAME).toBe("env-b");
      expect(b.AWS_LAMBDA_FUNCTION_MEMORY_SIZE).toBe("512");
    } finally {
      delete process.env.SANDBOX_TEST_SECRET;
    }
  });

  it("runs beforeInvoke hooks in the sandbox process, and a throwing hook fails the invocation", async () => {
    await create("hooked-fn", "index.echo");
    const seen: unknown[] = [];
    const unregister = sandbox.lambda.beforeInvoke("hooked-fn", async (payload) => {
      seen.push(payload);
    });
    await invoke("hooked-fn", { n: 1 });
    expect(seen).toEqual([{ n: 1 }]);
    unregister();
    await invoke("hooked-fn", { n: 2 });
    expect(seen).toEqual([{ n: 1 }]);

    const removeFault = sandbox.lambda.beforeInvoke("hooked-fn", () => {
      throw Object.assign(new Error("injected"), { name: "InjectedFault" });
    });
    const out = await invoke("hooked-fn", { n: 3 });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payloadOf(out)).toMatchObject({ errorType: "InjectedFault", errorMessage: "injected" });
    removeFault();
  });

  it("keeps each function's output as its log, through the API (Tail), the admin endpoint and in-process", async () => {
    await create("chatty-fn", "index.chatty");
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: "chatty-fn", Payload: Buffer.from('{"word":"bonjour"}'), LogType: "Tail" }),
    );
    const tail = Buffer.from(out.LogResult ?? "", "base64").toString("utf8");
    expect(tail).toMatch(/^START RequestId: \S+ Version: \$LATEST\n/);
    expect(tail).toMatch(/\tINFO\tsaid bonjour\n/);
    expect(tail).toMatch(/\tERROR\tcomplained bonjour\n/);
    expect(tail).toContain("raw bonjour\n");
    expect(tail).toMatch(/REPORT RequestId: \S+\tDuration: /);
    const log = await new SandboxAdmin(sandbox.endpoint).lambdaLogs("chatty-fn");
    expect(log).toContain("said bonjour");
    expect(sandbox.lambda.logs("chatty-fn")).toBe(log);
    expect(sandbox.lambda.logs("echo-fn")).not.toContain("bonjour");
  });
});
