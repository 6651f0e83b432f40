import { randomUUID } from "node:crypto";
import { sandboxStateMachineArn } from "../../local/run-workflow.ts";
import { rekeyDefinitionJson, substitute } from "../../workflow/definition.ts";
import { localFunctionArns } from "../../workflow/local-runner.ts";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import type { S3Store } from "../s3/store.ts";
import { type ExecutionStatus, SandboxExecution } from "./executions.ts";
import { type HistoryEvent, MAX_HISTORY_EVENTS, type TaskInfo } from "./history.ts";
import { checkExecutionName, isHere, parseExecutionArn, parseStateMachineArn, sfnError } from "./names.ts";

/** The work bucket the sandbox "deployment" creates, as the CDK stack creates one per account and region. */
export const sandboxWorkBucket = (identity: SandboxIdentity) => `rekey-work-${identity.accountId}-${identity.region}`;
/** The state machine's execution role; the sandbox does not evaluate IAM (sandbox/ASSUMPTIONS.md). */
export const sandboxStateMachineRoleArn = (accountId: string) => `arn:aws:iam::${accountId}:role/rekey-state-machine`;

const TARGET_PREFIX = "AWSStepFunctions.";
const MAX_INPUT_BYTES = 262_144;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"] as const;

export interface StepFunctionsSandbox {
  handler: ServiceHandler;
  /** `/_sandbox/stepfunctions/...`: what the API does not show (the state each execution is in). */
  admin: ServiceHandler;
  stateMachineArn: string;
  workBucket: string;
  executions(): readonly SandboxExecution[];
  /** Aborts every running execution; the sandbox is closing. */
  close(): void;
}

/**
 * Step Functions over its JSON 1.0 protocol (`x-amz-target: AWSStepFunctions.<Operation>`), with rekey's state
 * machine deployed when the sandbox starts. Behaviour: sandbox/STEP-FUNCTIONS.md.
 */
export function createStepFunctions(deps: {
  identity: SandboxIdentity;
  s3: S3Store;
  /** The sandbox's own endpoint, known once it listens; executions' step code calls AWS APIs through it. */
  endpoint: () => string;
  maxHistoryEvents?: number;
}): StepFunctionsSandbox {
  const { identity } = deps;
  const machine = {
    arn: sandboxStateMachineArn(identity.region, identity.accountId),
    name: "rekey",
    definition: substitute(rekeyDefinitionJson(), localFunctionArns(identity.region, identity.accountId)),
    roleArn: sandboxStateMachineRoleArn(identity.accountId),
    creationDate: Date.now(),
  };
  const tasks = taskInfoOf(machine.definition);
  const workBucket = sandboxWorkBucket(identity);
  deps.s3.createBucket(workBucket);

  const byName = new Map<string, SandboxExecution>();
  let sequence = 0;

  const findMachine = (arn: string) => {
    const parts = parseStateMachineArn(arn);
    if (parts.qualifier !== undefined || !isHere(parts, identity) || parts.name !== machine.name) {
      throw sfnError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
    }
    return machine;
  };
  const findExecution = (arn: string) => {
    const parts = parseExecutionArn(arn);
    const execution = isHere(parts, identity) && parts.stateMachineName === machine.name && byName.get(parts.name);
    if (!execution) throw sfnError("ExecutionDoesNotExist", `Execution Does Not Exist: '${arn}'`);
    return execution;
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    ListStateMachines(input) {
      const items = [
        { stateMachineArn: machine.arn, name: machine.name, type: "STANDARD", creationDate: machine.creationDate },
      ];
      const page = paginate(items, input, "ListStateMachines");
      return {
        stateMachines: page.items.map((m) => ({ ...m, creationDate: seconds(m.creationDate) })),
        ...page.next,
      };
    },
    DescribeStateMachine(input) {
      const m = findMachine(required(input, "stateMachineArn"));
      return {
        stateMachineArn: m.arn,
        name: m.name,
        status: "ACTIVE",
        definition: m.definition,
        roleArn: m.roleArn,
        type: "STANDARD",
        creationDate: seconds(m.creationDate),
        loggingConfiguration: { level: "OFF", includeExecutionData: false },
        tracingConfiguration: { enabled: false },
      };
    },
    StartExecution(input) {
      const m = findMachine(required(input, "stateMachineArn"));
      const name = optionalString(input, "name") ?? randomUUID();
      checkExecutionName(name);
      const raw = optionalString(input, "input") ?? "{}";
      if (Buffer.byteLength(raw, "utf8") > MAX_INPUT_BYTES) {
        throw validation(
          `Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_INPUT_BYTES}`,
        );
      }
      let parsedInput: unknown;
      try {
        parsedInput = JSON.parse(raw);
      } catch (err) {
        throw sfnError("InvalidExecutionInput", `Invalid State Machine Execution Input: '${(err as Error).message}'`);
      }
      const existing = byName.get(name);
      if (existing) {
        // Idempotent for STANDARD workflows: same name and input as a running execution returns it.
        if (existing.status === "RUNNING" && existing.input === raw) {
          return { executionArn: existing.executionArn, startDate: seconds(existing.startDate) };
        }
        throw sfnError("ExecutionAlreadyExists", `Execution Already Exists: '${existing.executionArn}'`);
      }
      const executionArn = `${m.arn.replace(":stateMachine:", ":execution:")}:${name}`;
      const execution = new SandboxExecution(executionArn, m.arn, name, raw, Date.now(), sequence++, {
        taskInfo: (state) => tasks.get(state),
        maxHistoryEvents: deps.maxHistoryEvents ?? MAX_HISTORY_EVENTS,
      });
      byName.set(name, execution);
      execution.run({
        sandbox: { endpoint: deps.endpoint(), identity },
        roleArn: m.roleArn,
        workBucket,
        parsedInput,
      });
      return { executionArn, startDate: seconds(execution.startDate) };
    },
    DescribeExecution(input) {
      const e = findExecution(required(input, "executionArn"));
      const includedData = optionalString(input, "includedData") ?? "ALL_DATA";
      if (includedData !== "ALL_DATA" && includedData !== "METADATA_ONLY") {
        throw enumError("includedData", includedData, ["ALL_DATA", "METADATA_ONLY"]);
      }
      const data = includedData === "ALL_DATA";
      return definedOnly({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: seconds(e.startDate),
        stopDate: e.stopDate !== undefined ? seconds(e.stopDate) : undefined,
        input: data ? e.input : undefined,
        inputDetails: data ? { included: true } : undefined,
        output: data ? e.output : undefined,
        outputDetails: data && e.output !== undefined ? { included: true } : undefined,
        error: e.error,
        cause: e.cause,
      });
    },
    ListExecutions(input) {
      const smArn = optionalString(input, "stateMachineArn");
      const mapRunArn = optionalString(input, "mapRunArn");
      if ((smArn === undefined) === (mapRunArn === undefined)) {
        throw validation("Must provide a StateMachine ARN or MapRun ARN");
      }
      if (mapRunArn !== undefined) throw sfnError("ResourceNotFound", `Resource not found: '${mapRunArn}'`);
      const m = findMachine(smArn ?? "");
      const statusFilter = optionalString(input, "statusFilter");
      if (statusFilter !== undefined && !(STATUSES as readonly string[]).includes(statusFilter)) {
        throw enumError("statusFilter", statusFilter, STATUSES);
      }
      const redriveFilter = optionalString(input, "redriveFilter");
      if (redriveFilter !== undefined && redriveFilter !== "REDRIVEN" && redriveFilter !== "NOT_REDRIVEN") {
        throw enumError("redriveFilter", redriveFilter, ["REDRIVEN", "NOT_REDRIVEN"]);
      }
      // Most recent first: running executions by startDate, closed ones by stopDate. Nothing is ever redriven here.
      const sortKey = (e: SandboxExecution) => (e.status === "RUNNING" ? e.startDate : (e.stopDate ?? e.startDate));
      const matching = [...byName.values()]
        .filter((e) => e.stateMachineArn === m.arn)
        .filter((e) => statusFilter === undefined || e.status === (statusFilter as ExecutionStatus))
        .filter(() => redriveFilter !== "REDRIVEN")
        .sort((a, b) => sortKey(b) - sortKey(a) || b.sequence - a.sequence);
      const page = paginate(matching, input, `ListExecutions:${m.arn}:${statusFilter ?? ""}:${redriveFilter ?? ""}`);
      return {
        executions: page.items.map((e) =>
          definedOnly({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: seconds(e.startDate),
            stopDate: e.stopDate !== undefined ? seconds(e.stopDate) : undefined,
          }),
        ),
        ...page.next,
      };
    },
    GetExecutionHistory(input) {
      const arn = required(input, "executionArn");
      const e = findExecution(arn);
      const reverse = optionalBoolean(input, "reverseOrder") ?? false;
      const includeData = optionalBoolean(input, "includeExecutionData") ?? true;
      const limit = pageSize(input);
      const events = e.history.events;
      const scope = `GetExecutionHistory:${arn}:${reverse}`;
      // The token holds the id of the next event to return, so a page stays stable while the execution appends events.
      const token = optionalString(input, "nextToken");
      let from = token !== undefined ? decodeToken(token, scope) : reverse ? events.length : 1;
      if (reverse) from = Math.min(from, events.length);
      const page: HistoryEvent[] = [];
      for (let id = from; page.length < limit && id >= 1 && id <= events.length; id += reverse ? -1 : 1) {
        const event = events[id - 1];
        if (event) page.push(event);
      }
      const nextId = (page.at(-1)?.id ?? from) + (reverse ? -1 : 1);
      const more = page.length > 0 && (reverse ? nextId >= 1 : nextId <= events.length);
      return {
        events: page.map((event) => wireEvent(event, includeData)),
        ...(more ? { nextToken: encodeToken(scope, nextId) } : {}),
      };
    },
    async StopExecution(input) {
      const e = findExecution(required(input, "executionArn"));
      const error = optionalString(input, "error");
      const cause = optionalString(input, "cause");
      if (error !== undefined && error.length > 256) {
        throw validation(
          "Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256",
        );
      }
      if (cause !== undefined && cause.length > 32_768) {
        throw validation(
          "Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768",
        );
      }
      // A closed execution stays as it closed; the call answers with its stopDate (sandbox/ASSUMPTIONS.md).
      if (e.status === "RUNNING") await e.stop(definedOnly({ error, cause }));
      return { stopDate: seconds(e.stopDate ?? Date.now()) };
    },
  };

  const handler: ServiceHandler = async (req: SandboxRequest) => {
    const target = header(req, "x-amz-target");
    if (req.method !== "POST" || !target?.startsWith(TARGET_PREFIX)) return undefined;
    const operation = target.slice(TARGET_PREFIX.length);
    try {
      const run = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
      if (!run) {
        throw sfnError("UnknownOperationException", `The sandbox does not implement Step Functions ${operation}`);
      }
      let input: unknown;
      try {
        input = req.body.length ? JSON.parse(req.body.toString("utf8")) : {};
      } catch {
        throw sfnError("SerializationException", "Request body is not valid JSON");
      }
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        throw sfnError("SerializationException", "Request body must be a JSON object");
      }
      return json(200, await run(input as Record<string, unknown>));
    } catch (err) {
      if (err instanceof ServiceError) return json(err.status, { __type: err.code, message: err.message });
      throw err;
    }
  };

  const admin: ServiceHandler = async (req) => {
    if (req.method === "GET" && req.rawPath === "/_sandbox/stepfunctions/executions") {
      return json(200, {
        stateMachineArn: machine.arn,
        workBucket,
        executions: [...byName.values()].map((e) =>
          definedOnly({
            executionArn: e.executionArn,
            name: e.name,
            status: e.status,
            currentState: e.currentState,
            historyEvents: e.history.events.length,
          }),
        ),
      });
    }
    return undefined;
  };

  return {
    handler,
    admin,
    stateMachineArn: machine.arn,
    workBucket,
    executions: () => [...byName.values()],
    close() {
      for (const e of byName.values()) e.shutdown();
    },
  };
}

/** The Lambda function ARN and TimeoutSeconds of every Task state, for LambdaFunctionScheduled events. */
function taskInfoOf(definitionJson: string): Map<string, TaskInfo> {
  const definition = JSON.parse(definitionJson) as { States: Record<string, Record<string, unknown>> };
  const tasks = new Map<string, TaskInfo>();
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== "Task" || typeof state.Resource !== "string") continue;
    tasks.set(name, {
      resource: state.Resource,
      ...(typeof state.TimeoutSeconds === "number" ? { timeoutInSeconds: state.TimeoutSeconds } : {}),
    });
  }
  return tasks;
}

function wireEvent(event: HistoryEvent, includeData: boolean): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    timestamp: seconds(event.timestamp),
    type: event.type,
    id: event.id,
    previousEventId: event.previousEventId,
  };
  if (event.details) {
    const value = includeData
      ? event.details.value
      : Object.fromEntries(
          Object.entries(event.details.value).filter(
            ([k]) => k !== "input" && k !== "output" && k !== "inputDetails" && k !== "outputDetails",
          ),
        );
    wire[event.details.member] = value;
  }
  return wire;
}

/** JSON 1.0 timestamps are epoch seconds, with milliseconds as the fraction. */
const seconds = (ms: number) => ms / 1000;

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.0" }, body: JSON.stringify(body) };
}

function validation(detail: string): ServiceError {
  return sfnError("ValidationException", `1 validation error detected: ${detail}`);
}

function enumError(member: string, value: string, allowed: readonly string[]): ServiceError {
  return validation(
    `Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
  );
}

function required(input: Record<string, unknown>, member: string): string {
  const v = optionalString(input, member);
  if (v === undefined)
    throw validation(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  return v;
}

function optionalString(input: Record<string, unknown>, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw sfnError("SerializationException", `'${member}' must be a string`);
  return v;
}

function optionalBoolean(input: Record<string, unknown>, member: string): boolean | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw sfnError("SerializationException", `'${member}' must be a boolean`);
  return v;
}

/** maxResults: 0–1000; 0 (or none) means the default page of 100. */
function pageSize(input: Record<string, unknown>): number {
  const v = input.maxResults;
  if (v === undefined || v === null) return DEFAULT_PAGE;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw sfnError("SerializationException", "'maxResults' must be an integer");
  }
  if (v < 0)
    throw validation(
      `Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0`,
    );
  if (v > MAX_PAGE) {
    throw validation(
      `Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`,
    );
  }
  return v === 0 ? DEFAULT_PAGE : v;
}

/** Offset pagination for list operations; the token is bound to the operation and its filters. */
function paginate<T>(
  items: T[],
  input: Record<string, unknown>,
  scope: string,
): { items: T[]; next: { nextToken?: string } } {
  const limit = pageSize(input);
  const token = optionalString(input, "nextToken");
  const offset = token !== undefined ? decodeToken(token, scope) : 0;
  const end = offset + limit;
  return { items: items.slice(offset, end), next: end < items.length ? { nextToken: encodeToken(scope, end) } : {} };
}

function encodeToken(scope: string, position: number): string {
  return Buffer.from(JSON.stringify({ s: scope, p: position }), "utf8").toString("base64url");
}

function decodeToken(token: string, scope: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { s?: unknown; p?: unknown };
    if (t.s === scope && typeof t.p === "number" && Number.isInteger(t.p) && t.p >= 0) return t.p;
  } catch {
    // falls through to InvalidToken
  }
  throw sfnError("InvalidToken", `Invalid Token: '${token}'`);
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
