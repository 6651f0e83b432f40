import { z } from "zod";
import { header, type SandboxRequest, type SandboxResponse, type ServiceHandler } from "../http.ts";
import { lambdaOperationName } from "../lambda/operation-name.ts";
import { s3OperationName } from "../s3/operation-name.ts";
import { target } from "../s3/service.ts";
import { batchOperationName } from "../s3control/service.ts";
import { BATCH_OPERATIONS_USER_AGENT } from "../sdk-clients.ts";
import { seededRandom } from "./random.ts";
import {
  errorOf,
  type FaultRule,
  type FaultRuleInput,
  type FaultRuleState,
  type FaultService,
  faultRuleSchema,
} from "./rules.ts";
import { faultResponse } from "./wire.ts";

/** One API call as fault rules see it. */
export interface FaultCall {
  service: FaultService;
  operation: string;
  bucket?: string;
  key?: string;
  fromBatch: boolean;
}

interface ActiveRule {
  state: FaultRuleState;
  random: () => number;
}

/**
 * Fails chosen AWS API calls before any service handles them: by service, operation, S3 bucket and key, and
 * caller (clients or the sandbox's Batch Operations engine), on a share of calls or the next N. Admin API:
 * `/_sandbox/faults` (sandbox/FAULTS.md).
 */
export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  add(inputs: FaultRuleInput[]): FaultRuleState[] {
    const parsed = inputs.map((i) => faultRuleSchema.parse(i));
    const added = parsed.map((rule) => this.activate(rule));
    this.rules.push(...added);
    return added.map((r) => ({ ...r.state }));
  }

  list(): FaultRuleState[] {
    return this.rules.map((r) => ({ ...r.state }));
  }

  /** Removes one rule (by id) or, without an id, every rule. */
  clear(id?: string): void {
    this.rules = id === undefined ? [] : this.rules.filter((r) => r.state.id !== id);
  }

  /** The error response for a call (signed for `signing`) a rule fails, or undefined to let the service answer. */
  intercept(signing: string, req: SandboxRequest): SandboxResponse | undefined {
    if (this.rules.length === 0) return undefined;
    const service = faultServiceOf(signing, req);
    if (service === undefined) return undefined;
    const call = describeCall(service, req);
    for (const rule of this.rules) {
      if (!matches(rule.state, call)) continue;
      rule.state.matched++;
      if (!fires(rule)) continue;
      rule.state.injected++;
      return faultResponse(service, errorOf(rule.state), req);
    }
    return undefined;
  }

  /** `POST /_sandbox/faults` (`{rules: [...]}` or one rule) adds, `GET` lists, `DELETE [/<id>]` removes. */
  readonly admin: ServiceHandler = async (req) => {
    const id = /^\/_sandbox\/faults\/([^/]+)$/.exec(req.rawPath)?.[1];
    if (req.rawPath !== "/_sandbox/faults" && id === undefined) return undefined;
    try {
      if (req.method === "GET" && id === undefined) return json(200, { rules: this.list() });
      if (req.method === "DELETE") {
        this.clear(id === undefined ? undefined : decodeURIComponent(id));
        return json(200, { rules: this.list() });
      }
      if (req.method === "POST" && id === undefined) {
        const body: unknown = JSON.parse(req.body.toString("utf8") || "{}");
        const inputs = isRuleList(body) ? body.rules : [body];
        return json(200, { rules: this.add(inputs as FaultRuleInput[]) });
      }
      return undefined;
    } catch (err) {
      if (err instanceof z.ZodError) return json(400, { error: "InvalidFaultRule", message: z.prettifyError(err) });
      if (err instanceof SyntaxError) return json(400, { error: "InvalidFaultRule", message: "Body is not JSON" });
      throw err;
    }
  };

  private activate(rule: FaultRule): ActiveRule {
    const state: FaultRuleState = {
      ...rule,
      id: `fault-${this.nextId++}`,
      ...(rule.count !== undefined ? { remaining: rule.count } : {}),
      matched: 0,
      injected: 0,
    };
    return { state, random: seededRandom(rule.seed) };
  }
}

function isRuleList(body: unknown): body is { rules: unknown[] } {
  return typeof body === "object" && body !== null && Array.isArray((body as { rules?: unknown }).rules);
}

function matches(rule: FaultRuleState, call: FaultCall): boolean {
  if (rule.service !== call.service) return false;
  if (rule.operation !== undefined && rule.operation !== call.operation) return false;
  if (rule.from !== "any" && (rule.from === "batch") !== call.fromBatch) return false;
  if (rule.bucket !== undefined && rule.bucket !== call.bucket) return false;
  if (rule.key !== undefined && rule.key !== call.key) return false;
  if (rule.keyPrefix !== undefined && !(call.key ?? "").startsWith(rule.keyPrefix)) return false;
  return true;
}

function fires(rule: ActiveRule): boolean {
  const s = rule.state;
  if (s.remaining !== undefined) {
    if (s.remaining === 0) return false;
    s.remaining--;
    return true;
  }
  return rule.random() < (s.share ?? 0);
}

/** The operation and target of a request, derived as each service routes it. */
export function describeCall(service: FaultService, req: SandboxRequest): FaultCall {
  const agent = `${header(req, "user-agent") ?? ""} ${header(req, "x-amz-user-agent") ?? ""}`;
  const fromBatch = agent.includes(BATCH_OPERATIONS_USER_AGENT);
  switch (service) {
    case "s3": {
      let t = { bucket: "", key: "" };
      try {
        t = target(req.rawPath);
      } catch {
        // Not validly encoded: S3 itself answers that; no bucket or key rule can match it.
      }
      return { service, operation: s3OperationName(req, t.bucket, t.key), bucket: t.bucket, key: t.key, fromBatch };
    }
    case "s3control":
      return { service, operation: batchOperationName(req), fromBatch };
    case "kms":
    case "states":
    case "athena":
      return { service, operation: (header(req, "x-amz-target") ?? "").replace(/^[^.]*\./, ""), fromBatch };
    case "sts": {
      const form = new URLSearchParams(req.body.toString("utf8"));
      return { service, operation: form.get("Action") ?? req.query.get("Action") ?? "Unknown", fromBatch };
    }
    case "lambda":
      return { service, operation: lambdaOperationName(req), fromBatch };
  }
}

/** The fault service of a request signed for `signing` (S3 Control requests are signed for s3). */
export function faultServiceOf(signing: string, req: SandboxRequest): FaultService | undefined {
  if (signing === "s3") return req.rawPath.startsWith("/v20180820/") ? "s3control" : "s3";
  return (["kms", "sts", "lambda", "states", "athena"] as const).find((s) => s === signing);
}

function json(status: number, value: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}
