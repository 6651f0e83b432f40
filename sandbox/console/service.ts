import { readFile } from "node:fs/promises";
import type { SandboxRequest, SandboxResponse, ServiceHandler } from "../http.ts";
import type { BatchOperationsSandbox } from "../s3control/service.ts";
import type { StepFunctionsSandbox } from "../stepfunctions/service.ts";
import { executionView, listExecutions } from "./execution-view.ts";
import { listJobs } from "./jobs-view.ts";

/**
 * The console: a read-only page of the sandbox's Step Functions executions and Batch Operations jobs at
 * `/_sandbox/console/`, and the JSON it polls under `/_sandbox/console/api/` (sandbox/STEP-FUNCTIONS.md,
 * "Console"). It reads the services' state in this process and changes nothing.
 */

export const CONSOLE_PATH = "/_sandbox/console/";

const API = `${CONSOLE_PATH}api/`;
const PAGE = new URL("./page.html", import.meta.url);
const SCRIPT = new URL("./page.js", import.meta.url);

/** The page loads nothing but its own script, and talks to nothing but this server. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

export function createConsole(deps: {
  stepFunctions: Pick<StepFunctionsSandbox, "executions" | "savedStateMachines">;
  batch: Pick<BatchOperationsSandbox, "engine">;
}): ServiceHandler {
  return async (req) => {
    if (req.rawPath !== CONSOLE_PATH.slice(0, -1) && !req.rawPath.startsWith(CONSOLE_PATH)) return undefined;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(
        405,
        { error: "MethodNotAllowed", message: "The console is read-only: it answers GET and HEAD." },
        {
          allow: "GET, HEAD",
        },
      );
    }
    switch (req.rawPath) {
      case CONSOLE_PATH.slice(0, -1):
      case CONSOLE_PATH:
        return file(PAGE, "text/html; charset=utf-8", { "content-security-policy": PAGE_POLICY });
      case `${CONSOLE_PATH}page.js`:
        return file(SCRIPT, "text/javascript; charset=utf-8");
      case `${API}executions`:
        return json(200, { executions: listExecutions(deps.stepFunctions.executions()) });
      case `${API}execution`:
        return execution(deps.stepFunctions, req);
      case `${API}jobs`:
        return json(200, { jobs: listJobs(deps.batch.engine) });
      default:
        return json(404, { error: "NotFound", message: `The console has nothing at ${req.rawPath}.` });
    }
  };
}

/** `?arn=<execution ARN>&after=<event id>`: the execution, with the history events after that id. */
function execution(
  stepFunctions: Pick<StepFunctionsSandbox, "executions" | "savedStateMachines">,
  req: SandboxRequest,
): SandboxResponse {
  const arn = req.query.get("arn");
  if (!arn) return json(400, { error: "MissingParameter", message: "Name the execution: ?arn=<execution ARN>." });
  const afterText = req.query.get("after") ?? "0";
  const after = Number(afterText);
  if (!Number.isInteger(after) || after < 0) {
    return json(400, {
      error: "InvalidParameter",
      message: `after must be an event id (0 or more), not "${afterText}".`,
    });
  }
  const all = stepFunctions.executions();
  const found = all.find((e) => e.executionArn === arn);
  if (!found) return json(404, { error: "ExecutionNotFound", message: `The sandbox has no execution ${arn}.` });
  return json(200, executionView(found, all, stepFunctions.savedStateMachines(), after));
}

async function file(url: URL, type: string, headers: Record<string, string> = {}): Promise<SandboxResponse> {
  return {
    status: 200,
    headers: { "content-type": type, "cache-control": "no-cache", ...headers },
    body: await readFile(url),
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}
