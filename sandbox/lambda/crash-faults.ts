import { z } from "zod";
import type { SandboxRequest, SandboxResponse } from "../http.ts";

/**
 * When an injected crash ends a function's container: `before` the handler runs (nothing of it happens), or
 * `after` it returned (its side effects happened, its result is lost). Either way the invocation fails as Lambda
 * reports a runtime process that exited: `Runtime.ExitError`.
 */
export type CrashPoint = "before" | "after";

export interface CrashFault {
  functionName: string;
  when: CrashPoint;
  /** Invocations still to crash. */
  remaining: number;
}

const crashSchema = z
  .object({
    functionName: z.string().min(1),
    when: z.enum(["before", "after"]),
    count: z.number().int().positive().default(1),
  })
  .strict();

export type CrashFaultInput = z.input<typeof crashSchema>;

/** The crash faults of the sandbox's Lambda functions, by function name, consumed one per invocation in order. */
export class CrashFaults {
  private faults: CrashFault[] = [];

  add(input: CrashFaultInput): CrashFault {
    const { functionName, when, count } = crashSchema.parse(input);
    const fault = { functionName, when, remaining: count };
    this.faults.push(fault);
    return { ...fault };
  }

  /** Consumes one crash of the function, if any is pending. */
  take(functionName: string): CrashPoint | undefined {
    const fault = this.faults.find((f) => f.functionName === functionName && f.remaining > 0);
    if (!fault) return undefined;
    fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault.when;
  }

  list(): CrashFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(functionName?: string): void {
    this.faults = functionName === undefined ? [] : this.faults.filter((f) => f.functionName !== functionName);
  }

  /**
   * `/_sandbox/lambda/faults`: POST `{functionName, when, count?}` adds (the name as given, resolved by
   * `resolve`), GET lists, DELETE (`?function=`) removes.
   */
  admin(req: SandboxRequest, resolve: (name: string) => string): SandboxResponse | undefined {
    if (req.rawPath !== "/_sandbox/lambda/faults") return undefined;
    if (req.method === "GET") return json(200, { crashes: this.list() });
    if (req.method === "DELETE") {
      const name = req.query.get("function");
      this.clear(name === null ? undefined : resolve(name));
      return json(200, { crashes: this.list() });
    }
    if (req.method !== "POST") return undefined;
    try {
      const input = crashSchema.parse(JSON.parse(req.body.toString("utf8") || "{}"));
      this.add({ ...input, functionName: resolve(input.functionName) });
      return json(200, { crashes: this.list() });
    } catch (err) {
      if (err instanceof z.ZodError) return json(400, { error: "InvalidCrashFault", message: z.prettifyError(err) });
      if (err instanceof SyntaxError) return json(400, { error: "InvalidCrashFault", message: "Body is not JSON" });
      throw err;
    }
  }
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}
