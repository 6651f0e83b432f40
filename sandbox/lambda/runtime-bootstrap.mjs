// The runtime inside one sandbox Lambda container (a worker thread): loads the handler as Lambda's Node.js runtime
// does, then runs one invocation at a time for sandbox/lambda/containers.ts. Plain JavaScript, because it must load
// before the TypeScript loader it registers. Protocol: sandbox/LAMBDA.md, "Containers".
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { register as registerCommonJs } from "tsx/cjs/api";
import { register } from "tsx/esm/api";

const port = parentPort;
const { taskRoot, handler: handlerSetting } = workerData;
let requestId = "";

// Everything the function writes becomes its log, in order with its results (one message channel).
const capture = (stream) => (chunk, encoding, callback) => {
  const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  port.postMessage({ type: "log", stream, text });
  const done = typeof encoding === "function" ? encoding : callback;
  if (typeof done === "function") done();
  return true;
};
process.stdout.write = capture("stdout");
process.stderr.write = capture("stderr");

// Lambda's Node.js runtime prefixes console output with time, request id and level (text log format).
const levels = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
for (const [method, level] of Object.entries(levels)) {
  console[method] = (...args) => {
    process.stdout.write(`${new Date().toISOString()}\t${requestId || "undefined"}\t${level}\t${format(...args)}\n`);
  };
}

/** The error document Lambda's runtime reports: `{errorType, errorMessage, trace}`. */
function toErrorPayload(error) {
  if (error instanceof Error || (error && typeof error.name === "string" && typeof error.message === "string")) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: typeof error.stack === "string" ? error.stack.split("\n") : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function runtimeError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** `dir/module.nested.fn` → the module `<taskRoot>/dir/module.<ext>` and the export path `nested.fn`. */
async function loadHandler() {
  if (handlerSetting.includes("..")) {
    throw runtimeError(
      "Runtime.MalformedHandlerName",
      `'${handlerSetting}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = path.basename(handlerSetting);
  const moduleRoot = handlerSetting.slice(0, handlerSetting.length - base.length);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match) throw runtimeError("Runtime.MalformedHandlerName", "Bad handler");
  const [, moduleName, exportPath] = match;
  const stem = path.resolve(taskRoot, moduleRoot, moduleName);
  const file = [".js", ".mjs", ".cjs", ".ts"].map((ext) => stem + ext).find((f) => existsSync(f));
  if (!file) {
    throw runtimeError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  }
  // TypeScript handlers (a .ts file, or a small .mjs shim that re-exports one): ES modules, and CommonJS ones (a .ts
  // file outside any `"type": "module"` package). Registered only for them: the loader rewrites every module it
  // loads and turns source maps on, which costs a bundled JavaScript handler seconds per cold start.
  if (file.endsWith(".ts") || /\.ts["']/.test(readFileSync(file, "utf8").slice(0, 4096))) {
    register();
    registerCommonJs();
  }
  let loaded;
  try {
    loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) throw runtimeError("Runtime.UserCodeSyntaxError", String(error));
    if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND") {
      throw runtimeError("Runtime.ImportModuleError", String(error));
    }
    throw error;
  }
  // A CommonJS module imported as ESM may show its exports only under `default` (module.exports), where the
  // runtime's require() would find them.
  const find = (root) => exportPath.split(".").reduce((o, key) => o?.[key], root);
  const fn = find(loaded) ?? find(loaded.default);
  if (!fn) throw runtimeError("Runtime.HandlerNotFound", `${handlerSetting} is undefined or not exported`);
  if (typeof fn !== "function") throw runtimeError("Runtime.HandlerNotFound", `${handlerSetting} is not a function`);
  return fn;
}

/** Calls the handler as the runtime does: an async handler's promise, or a callback-style handler's callback. */
function call(fn, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error ? reject(error) : resolve(result));
    try {
      const returned = fn(event, context, callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
      else if (fn.length < 3) resolve(returned);
    } catch (error) {
      reject(error);
    }
  });
}

let handlerFn;
try {
  handlerFn = await loadHandler();
  port.postMessage({ type: "ready" });
} catch (error) {
  port.postMessage({ type: "init-error", error: toErrorPayload(error) });
}

port.on("message", async (message) => {
  // An injected crash (sandbox/FAULTS.md): the runtime process dies, here before the handler runs.
  if (message.type === "exit") process.exit(message.code);
  if (message.type !== "invoke" || !handlerFn) return;
  requestId = message.context.awsRequestId;
  const deadline = message.context.deadlineMs;
  const context = {
    ...message.context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await call(handlerFn, JSON.parse(message.event), context);
    let payload;
    try {
      // As the runtime serializes the result: `undefined` becomes null, toJSON applies (a Date becomes a string).
      payload = JSON.stringify(result === undefined ? null : result);
    } catch {
      throw runtimeError("Runtime.JSONStringifyError", "Unable to stringify response body");
    }
    if (message.exitAfter) process.exit(1);
    port.postMessage({ type: "result", id: message.id, payload });
  } catch (error) {
    if (message.exitAfter) process.exit(1);
    port.postMessage({ type: "error", id: message.id, error: toErrorPayload(error) });
  }
});
