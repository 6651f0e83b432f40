import type { SandboxResponse } from "../http.ts";
import type { SandboxExecution } from "./executions.ts";
import type { HistoryEvent } from "./history.ts";

/** How the Step Functions API answers: JSON 1.0 bodies, timestamps, history events and execution list items. */

export function wireEvent(event: HistoryEvent, includeData: boolean): Record<string, unknown> {
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

/** What ListExecutions gives of an execution, and DescribeExecution begins with. */
export function executionListItem(e: SandboxExecution): Record<string, unknown> {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    stopDate: e.stopDate !== undefined ? seconds(e.stopDate) : undefined,
    mapRunArn: e.mapRunArn,
  };
}

/** JSON 1.0 timestamps are epoch seconds, with milliseconds as the fraction. */
export const seconds = (ms: number) => ms / 1000;

export function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.0" }, body: JSON.stringify(body) };
}

export function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
