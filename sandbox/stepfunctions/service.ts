import { randomUUID } from "node:crypto";
import { type Behaviours, DEFAULT_BEHAVIOURS } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, ServiceError, type ServiceHandler } from "../http.ts";
import type { LambdaSandbox } from "../lambda/service.ts";
import { checkName, checkRoleArn, checkType, parseDefinition } from "./definitions.ts";
import type { StateMachineDefinition } from "./engine.ts";
import { type ExecutionStatus, SandboxExecution, type SavedExecution } from "./executions.ts";
import { type HistoryEvent, MAX_HISTORY_EVENTS } from "./history.ts";
import { type ChildLaunch, createMapRuns } from "./map-run-api.ts";
import { checkExecutionName, isHere, parseExecutionArn, parseStateMachineArn, sfnError } from "./names.ts";
import {
  checkLength,
  decodeToken,
  encodeToken,
  enumError,
  optionalBoolean,
  optionalString,
  pageSize,
  paginate,
  required,
  validation,
} from "./params.ts";
import { MAX_PAYLOAD_BYTES } from "./tasks.ts";
import { definedOnly, executionListItem, json, seconds, wireEvent } from "./wire.ts";

const TARGET_PREFIX = "AWSStepFunctions.";
const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"] as const;

export interface StepFunctionsSandbox {
  handler: ServiceHandler;
  /** `/_sandbox/stepfunctions/...`: what the API does not show (the state each execution is in). */
  admin: ServiceHandler;
  /** Every execution of every state machine, in start order. */
  executions(): readonly SandboxExecution[];
  /** Aborts every running execution; the sandbox is closing. */
  close(): void;
  /** The state machines as a data directory keeps them (sandbox/persistence/). */
  savedStateMachines(): SavedStateMachine[];
  /** Puts back what a data directory saved; executions that were running end failed (SandboxExecution.restore). */
  restore(saved: {
    machines: SavedStateMachine[];
    executions: { execution: SavedExecution; events: HistoryEvent[] }[];
  }): void;
}

export type SavedStateMachine = Omit<StateMachineRecord, "parsed">;

/** A state machine as CreateStateMachine made it and UpdateStateMachine changed it. */
interface StateMachineRecord {
  arn: string;
  name: string;
  definition: string;
  parsed: StateMachineDefinition;
  roleArn: string;
  creationDate: number;
  revisionId?: string;
  /** DELETING from DeleteStateMachine until its last running execution has closed; then it is gone. */
  status: "ACTIVE" | "DELETING";
  sequence: number;
}

/**
 * Step Functions over its JSON 1.0 protocol (`x-amz-target: AWSStepFunctions.<Operation>`): STANDARD state
 * machines of any definition, run by aws-local-stepfunctions, whose Task states invoke the sandbox's Lambda
 * functions. No state machine exists at start. Behaviour: sandbox/STEP-FUNCTIONS.md.
 */
export function createStepFunctions(deps: {
  identity: SandboxIdentity;
  lambda: LambdaSandbox;
  /** The sandbox's endpoint, where Distributed Map states read items from S3 and write results to it. */
  endpoint?: () => string;
  /** The sandbox's shared switches (read when a task fails); the defaults when not given. */
  behaviours?: Readonly<Behaviours>;
  maxHistoryEvents?: number;
}): StepFunctionsSandbox {
  const { identity } = deps;
  const behaviours = deps.behaviours ?? DEFAULT_BEHAVIOURS;
  const machines = new Map<string, StateMachineRecord>();
  const byArn = new Map<string, SandboxExecution>();
  let sequence = 0;

  /** Creates and runs an execution: StartExecution's, or a Map Run's child (which belongs to no machine record). */
  const launch = (e: ChildLaunch & { raw: string; machine?: StateMachineRecord }): SandboxExecution => {
    const execution = new SandboxExecution(e.executionArn, e.stateMachineArn, e.name, e.raw, Date.now(), sequence++, {
      maxHistoryEvents: deps.maxHistoryEvents ?? MAX_HISTORY_EVENTS,
      ...(e.mapRunArn !== "" ? { mapRunArn: e.mapRunArn } : {}),
    });
    byArn.set(e.executionArn, execution);
    const parentMachine = e.machine ?? machines.get(e.stateMachineName.split("/")[0] ?? "");
    execution.run({
      definition: e.definition,
      stateMachineName: e.stateMachineName,
      roleArn: e.roleArn,
      parsedInput: e.input,
      identity,
      lambda: deps.lambda,
      behaviours,
      machineDeleted: () => parentMachine?.status === "DELETING",
      mapRuns: mapRuns.host(e.roleArn),
      executions: { start: startExecution },
    });
    return execution;
  };
  const mapRuns = createMapRuns({
    identity,
    endpoint: deps.endpoint ?? (() => ""),
    launch: (child) => launch({ ...child, raw: JSON.stringify(child.input ?? null) }),
    executions: () => byArn.values(),
  });

  const machineArn = (name: string) => `arn:aws:states:${identity.region}:${identity.accountId}:stateMachine:${name}`;
  const findMachine = (arn: string) => {
    const parts = parseStateMachineArn(arn);
    const machine = parts.qualifier === undefined && isHere(parts, identity) ? machines.get(parts.name) : undefined;
    if (!machine) throw sfnError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
    return machine;
  };
  const findExecution = (arn: string) => {
    parseExecutionArn(arn);
    const execution = byArn.get(arn);
    if (!execution) throw sfnError("ExecutionDoesNotExist", `Execution Does Not Exist: '${arn}'`);
    return execution;
  };
  const running = (m: StateMachineRecord) =>
    [...byArn.values()].filter((e) => e.stateMachineArn === m.arn && e.status === "RUNNING");
  /** A deleting state machine goes once nothing of it runs any more. */
  const removeIfDone = (m: StateMachineRecord) => {
    if (m.status === "DELETING" && running(m).length === 0 && machines.get(m.name) === m) machines.delete(m.name);
  };

  /**
   * StartExecution, for the API and for `states:startExecution` Task states: starts the machine's definition in the
   * background, or answers the running execution of the same name and input. Throws the API's errors.
   */
  function startExecution(request: { stateMachineArn: string; name?: string; input?: string }): SandboxExecution {
    const m = findMachine(request.stateMachineArn);
    if (m.status === "DELETING") throw sfnError("StateMachineDeleting", `State machine is being deleted: '${m.arn}'`);
    const name = request.name ?? randomUUID();
    checkExecutionName(name);
    const raw = request.input ?? "{}";
    checkLength("input", Buffer.byteLength(raw, "utf8"), MAX_PAYLOAD_BYTES);
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(raw);
    } catch (err) {
      throw sfnError("InvalidExecutionInput", `Invalid State Machine Execution Input: '${(err as Error).message}'`);
    }
    const executionArn = `${m.arn.replace(":stateMachine:", ":execution:")}:${name}`;
    const existing = byArn.get(executionArn);
    if (existing) {
      // Idempotent for STANDARD workflows: same name and input as a running execution returns it.
      if (existing.status === "RUNNING" && existing.input === raw) return existing;
      throw sfnError("ExecutionAlreadyExists", `Execution Already Exists: '${existing.executionArn}'`);
    }
    const execution = launch({
      executionArn,
      stateMachineArn: m.arn,
      stateMachineName: m.name,
      name,
      input: parsedInput,
      raw,
      definition: m.parsed,
      roleArn: m.roleArn,
      mapRunArn: "",
      machine: m,
    });
    execution.onClosed(() => removeIfDone(m));
    return execution;
  }

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateStateMachine(input) {
      const name = required(input, "name");
      checkName(name);
      const definition = required(input, "definition");
      const parsed = parseDefinition(definition);
      const roleArn = checkRoleArn(required(input, "roleArn"));
      checkType(optionalString(input, "type"));
      if (input.publish === true) throw validation("The sandbox does not publish state machine versions");
      const existing = machines.get(name);
      if (existing) {
        if (existing.status === "DELETING") {
          throw sfnError("StateMachineDeleting", `State machine is being deleted: '${existing.arn}'`);
        }
        // Idempotent on name, definition and type; a different roleArn is ignored, not updated (API reference).
        if (existing.definition === definition) {
          return { stateMachineArn: existing.arn, creationDate: seconds(existing.creationDate) };
        }
        throw sfnError("StateMachineAlreadyExists", `State Machine Already Exists: '${existing.arn}'`);
      }
      const machine: StateMachineRecord = {
        arn: machineArn(name),
        name,
        definition,
        parsed,
        roleArn,
        creationDate: Date.now(),
        status: "ACTIVE",
        sequence: sequence++,
      };
      machines.set(name, machine);
      return { stateMachineArn: machine.arn, creationDate: seconds(machine.creationDate) };
    },
    UpdateStateMachine(input) {
      const m = findMachine(required(input, "stateMachineArn"));
      const definition = optionalString(input, "definition");
      const roleArn = optionalString(input, "roleArn");
      if (
        definition === undefined &&
        roleArn === undefined &&
        !input.loggingConfiguration &&
        !input.tracingConfiguration
      ) {
        throw sfnError(
          "MissingRequiredParameter",
          "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        );
      }
      if (input.publish === true) throw validation("The sandbox does not publish state machine versions");
      if (m.status === "DELETING") throw sfnError("StateMachineDeleting", `State machine is being deleted: '${m.arn}'`);
      // Running executions keep the definition they started with.
      if (definition !== undefined) {
        m.parsed = parseDefinition(definition);
        m.definition = definition;
      }
      if (roleArn !== undefined) m.roleArn = checkRoleArn(roleArn);
      m.revisionId = randomUUID();
      return { updateDate: seconds(Date.now()), revisionId: m.revisionId };
    },
    DeleteStateMachine(input) {
      const arn = required(input, "stateMachineArn");
      const parts = parseStateMachineArn(arn);
      if (parts.qualifier !== undefined) throw validation("The sandbox has no state machine versions or aliases");
      const m = isHere(parts, identity) ? machines.get(parts.name) : undefined;
      // Deleting a state machine that does not exist succeeds: the API reference lists no error for it.
      if (m) {
        m.status = "DELETING";
        removeIfDone(m);
      }
      return {};
    },
    ListStateMachines(input) {
      const items = [...machines.values()]
        .filter((m) => m.status === "ACTIVE")
        .sort((a, b) => a.sequence - b.sequence)
        .map((m) => ({ stateMachineArn: m.arn, name: m.name, type: "STANDARD", creationDate: m.creationDate }));
      const page = paginate(items, input, "ListStateMachines");
      return {
        stateMachines: page.items.map((m) => ({ ...m, creationDate: seconds(m.creationDate) })),
        ...page.next,
      };
    },
    DescribeStateMachine(input) {
      const m = findMachine(required(input, "stateMachineArn"));
      return definedOnly({
        stateMachineArn: m.arn,
        name: m.name,
        status: m.status,
        definition: m.definition,
        roleArn: m.roleArn,
        type: "STANDARD",
        creationDate: seconds(m.creationDate),
        loggingConfiguration: { level: "OFF", includeExecutionData: false },
        tracingConfiguration: { enabled: false },
        revisionId: m.revisionId,
      });
    },
    StartExecution(input) {
      const name = optionalString(input, "name");
      const raw = optionalString(input, "input");
      const execution = startExecution({
        stateMachineArn: required(input, "stateMachineArn"),
        ...(name !== undefined ? { name } : {}),
        ...(raw !== undefined ? { input: raw } : {}),
      });
      return { executionArn: execution.executionArn, startDate: seconds(execution.startDate) };
    },
    DescribeExecution(input) {
      const e = findExecution(required(input, "executionArn"));
      const includedData = optionalString(input, "includedData") ?? "ALL_DATA";
      if (includedData !== "ALL_DATA" && includedData !== "METADATA_ONLY") {
        throw enumError("includedData", includedData, ["ALL_DATA", "METADATA_ONLY"]);
      }
      const data = includedData === "ALL_DATA";
      return definedOnly({
        ...executionListItem(e),
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
      // A Map Run's children belong to its labelled state machine, so a machine's ARN never lists them.
      const scopeArn = mapRunArn ?? findMachine(smArn ?? "").arn;
      const candidates =
        mapRunArn !== undefined
          ? mapRuns.children(mapRunArn)
          : [...byArn.values()].filter((e) => e.stateMachineArn === scopeArn);
      const matching = candidates
        .filter((e) => statusFilter === undefined || e.status === (statusFilter as ExecutionStatus))
        .filter(() => redriveFilter !== "REDRIVEN")
        .sort((a, b) => sortKey(b) - sortKey(a) || b.sequence - a.sequence);
      const page = paginate(matching, input, `ListExecutions:${scopeArn}:${statusFilter ?? ""}:${redriveFilter ?? ""}`);
      return {
        executions: page.items.map((e) => definedOnly(executionListItem(e))),
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
      checkLength("error", error?.length ?? 0, 256);
      checkLength("cause", cause?.length ?? 0, 32_768);
      // A closed execution stays as it closed; the call answers with its stopDate (sandbox/ASSUMPTIONS.md).
      if (e.status === "RUNNING") await e.stop(definedOnly({ error, cause }));
      return { stopDate: seconds(e.stopDate ?? Date.now()) };
    },
    ...mapRuns.operations,
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
        executions: [...byArn.values()].map((e) =>
          definedOnly({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
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
    executions: () => [...byArn.values()],
    close() {
      for (const e of byArn.values()) e.shutdown();
    },
    savedStateMachines: () => [...machines.values()].map(({ parsed: _parsed, ...m }) => m),
    restore(saved) {
      for (const m of saved.machines) machines.set(m.name, { ...m, parsed: parseDefinition(m.definition) });
      for (const { execution, events } of saved.executions) {
        const e = SandboxExecution.restore(execution, events, deps.maxHistoryEvents ?? MAX_HISTORY_EVENTS);
        byArn.set(e.executionArn, e);
      }
      const sequences = [...saved.machines, ...saved.executions.map((e) => e.execution)].map((x) => x.sequence);
      sequence = Math.max(sequence, ...sequences.map((n) => n + 1));
      for (const m of [...machines.values()]) removeIfDone(m);
    },
  };
}
