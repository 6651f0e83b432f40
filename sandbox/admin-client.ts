import { request as httpRequest } from "node:http";
import type { z } from "zod";
import type { FaultRuleInput, FaultRuleState } from "./faults/rules.ts";
import type { CrashFault, CrashPoint } from "./lambda/crash-faults.ts";
import type { AdminObjectVersion } from "./s3/admin.ts";
import type { DeliveryResult } from "./s3/inventory.ts";
import type { SyntheticInventoryRequest } from "./s3/inventory-synthetic.ts";
import type { SeedObject, SeedResult } from "./s3/seed.ts";
import type { TaskFault, taskFaultSchema } from "./s3control/task-faults.ts";

/** A Batch Operations task fault as `setBatchTaskFaults` takes it (defaults: 503 SlowDown, seed 1). */
export type BatchTaskFaultInput = z.input<typeof taskFaultSchema>;

/** An error the sandbox admin API answered with (`{ error, message }` and a non-2xx status). */
export class SandboxAdminError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "SandboxAdminError";
  }
}

export interface DeliverInventoryInput {
  bucket: string;
  configurationId: string;
  maxRowsPerFile?: number;
}

/** Typed client for the sandbox's own JSON API under /_sandbox/ (what the AWS APIs cannot do: seed, deliver). */
export class SandboxAdmin {
  constructor(private readonly endpoint: string) {}

  /** Writes objects as PutObject would, with the given encryption; `size` declares an object without data. */
  seed(bucket: string, objects: SeedObject[]): Promise<SeedResult> {
    return this.request<SeedResult>("POST", "/_sandbox/s3/seed", { bucket, objects });
  }

  /** Produces an S3 Inventory report now, per the bucket's inventory configuration, into its destination bucket. */
  deliverInventory(input: DeliverInventoryInput): Promise<DeliveryResult> {
    return this.request<DeliveryResult>("POST", "/_sandbox/s3/inventory/deliver", input);
  }

  /**
   * Produces a synthetic S3 Inventory report of `rows` rows per the bucket's inventory configuration, of objects
   * that exist only in the report (sandbox/S3.md): for measuring inventory readers at scale.
   */
  deliverSyntheticInventory(input: SyntheticInventoryRequest): Promise<DeliveryResult> {
    return this.untimedPost<DeliveryResult>("/_sandbox/s3/inventory/synthetic", input);
  }

  /** Every version and delete marker, with the encryption and tags the sandbox holds for it. */
  async versions(bucket: string, prefix = ""): Promise<AdminObjectVersion[]> {
    const q = new URLSearchParams({ bucket, prefix });
    return (await this.request<{ versions: AdminObjectVersion[] }>("GET", `/_sandbox/s3/versions?${q}`)).versions;
  }

  /** Everything a sandbox Lambda function's containers wrote (its log, as CloudWatch Logs would hold it). */
  async lambdaLogs(functionName: string): Promise<string> {
    const q = new URLSearchParams({ function: functionName });
    return (await this.request<{ log: string }>("GET", `/_sandbox/lambda/logs?${q}`)).log;
  }

  /**
   * Adds API-call fault rules (sandbox/FAULTS.md): matching calls answer the rule's AWS error in the service's wire
   * format, on a `share` of calls or the next `count`. Returns the added rules with their ids.
   */
  async addFaults(...rules: FaultRuleInput[]): Promise<FaultRuleState[]> {
    return (await this.request<{ rules: FaultRuleState[] }>("POST", "/_sandbox/faults", { rules })).rules;
  }

  /** Every fault rule, with how many calls each matched and failed (and, for `count` rules, how many remain). */
  async faults(): Promise<FaultRuleState[]> {
    return (await this.request<{ rules: FaultRuleState[] }>("GET", "/_sandbox/faults")).rules;
  }

  /** Removes one fault rule, or all of them. */
  async clearFaults(id?: string): Promise<void> {
    await this.request("DELETE", id === undefined ? "/_sandbox/faults" : `/_sandbox/faults/${encodeURIComponent(id)}`);
  }

  /**
   * Replaces the Batch Operations task faults: matching tasks fail with the fault's S3 error (default 503 SlowDown)
   * in the completion report, on every task of a key, its first `attempts` tasks, or a seeded `share` of tasks.
   */
  async setBatchTaskFaults(faults: BatchTaskFaultInput[]): Promise<TaskFault[]> {
    return (await this.request<{ failKeys: TaskFault[] }>("POST", "/_sandbox/batch/faults", { failKeys: faults }))
      .failKeys;
  }

  async batchTaskFaults(): Promise<TaskFault[]> {
    return (await this.request<{ failKeys: TaskFault[] }>("GET", "/_sandbox/batch/faults")).failKeys;
  }

  async clearBatchTaskFaults(): Promise<void> {
    await this.request("DELETE", "/_sandbox/batch/faults");
  }

  /**
   * Crashes a Lambda function's next `count` invocations: `before` its handler runs, or `after` (its side effects
   * done, its result lost); the invocation fails with `Runtime.ExitError` and the container is gone.
   */
  async crashLambda(functionName: string, when: CrashPoint, count = 1): Promise<CrashFault[]> {
    const body = { functionName, when, count };
    return (await this.request<{ crashes: CrashFault[] }>("POST", "/_sandbox/lambda/faults", body)).crashes;
  }

  async lambdaCrashes(): Promise<CrashFault[]> {
    return (await this.request<{ crashes: CrashFault[] }>("GET", "/_sandbox/lambda/faults")).crashes;
  }

  async clearLambdaCrashes(functionName?: string): Promise<void> {
    const q = functionName === undefined ? "" : `?${new URLSearchParams({ function: functionName })}`;
    await this.request("DELETE", `/_sandbox/lambda/faults${q}`);
  }

  /**
   * A POST that may take many minutes (a synthetic inventory of millions of rows): fetch gives up waiting for the
   * response headers after 300 s (undici's headersTimeout), node:http does not.
   */
  private untimedPost<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest(
        new URL(path, this.endpoint),
        {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            try {
              resolve(this.answer<T>(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Any admin call, for services whose admin routes have no typed method here. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.endpoint), {
      method,
      ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });
    return this.answer<T>(res.status, await res.text());
  }

  private answer<T>(status: number, text: string): T {
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (status < 200 || status > 299) {
      const e = (parsed ?? {}) as { error?: string; message?: string };
      throw new SandboxAdminError(e.error ?? "SandboxAdminError", status, e.message ?? text);
    }
    return parsed as T;
  }
}
