import { ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { UnexpectedResponseError } from "../../contract/errors.ts";
import { describeIssues, RunRequestSchema } from "../../contract/run-request.ts";
import { type AwsOptions, clientsFor, stateMachineArn } from "../aws.ts";
import { CommandFailedError, UsageError } from "../errors.ts";
import { engineFlag } from "../flags.ts";
import type { Io } from "../io.ts";
import { executionName, listRuns } from "../runs.ts";

export interface StartOptions extends AwsOptions {
  bucket?: string | undefined;
  kmsKey?: string | undefined;
  inventoryConfig?: string | undefined;
  /** "inventory" or "generate"; by default, inventory when --inventory-config is given. */
  source?: string | undefined;
  /** "auto" (default), "stream", "select" or "athena" (contract/engines.ts). */
  engine?: string | undefined;
  workBucket?: string | undefined;
  changeId?: string | undefined;
  runOptions: Record<string, number | boolean>;
  json: boolean;
}

/** `rekey start`: validates locally, refuses a second run for a busy bucket, then starts one execution. */
export async function startCommand(options: StartOptions, io: Io): Promise<number> {
  if (!options.bucket) throw new UsageError("--bucket is required.");
  if (!options.kmsKey) throw new UsageError("--kms-key is required (the full ARN of the target customer managed key).");
  if (options.source !== undefined && options.source !== "inventory" && options.source !== "generate") {
    throw new UsageError(
      `--source must be "inventory" (with --inventory-config) or "generate" (Batch Operations lists the bucket), not "${options.source}".`,
    );
  }
  if (options.changeId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(options.changeId)) {
    throw new UsageError(
      "--change-id must be 1 to 32 letters, digits, hyphens or underscores (it becomes part of the execution name).",
    );
  }
  const request = {
    bucket: options.bucket,
    kmsKeyArn: options.kmsKey,
    ...(options.source ? { source: options.source } : {}),
    ...(options.engine ? { engine: engineFlag(options.engine) } : {}),
    ...(options.inventoryConfig ? { inventoryConfigurationId: options.inventoryConfig } : {}),
    ...(options.workBucket ? { workBucket: options.workBucket } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(Object.keys(options.runOptions).length ? { options: options.runOptions } : {}),
  };
  const parsed = RunRequestSchema.safeParse(request);
  if (!parsed.success) throw new UsageError(`The run request is invalid:\n${describeIssues(parsed.error)}`);

  const clients = await clientsFor(options, io);
  const machine = await stateMachineArn(clients, options, io);
  const busy = await listRuns(clients, machine, { bucket: options.bucket, status: "RUNNING", limit: 1 });
  if (busy[0]) {
    throw new CommandFailedError(
      `A run for bucket ${options.bucket} is already running: ${busy[0].executionArn} (started ${busy[0].startDate?.toISOString() ?? "?"}).\n` +
        `Watch it with: rekey status --execution ${busy[0].executionArn} --watch\nor stop it with: rekey stop --execution ${busy[0].executionArn}`,
    );
  }
  const name = executionName(options.bucket, io.now(), options.changeId);
  let executionArn: string | undefined;
  try {
    executionArn = (
      await clients.sfn.send(
        new StartExecutionCommand({ stateMachineArn: machine, name, input: JSON.stringify(request) }),
      )
    ).executionArn;
  } catch (err) {
    if (err instanceof ExecutionAlreadyExists) {
      throw new CommandFailedError(
        `An execution named ${name} already exists (a run for ${options.bucket} today). Pass --change-id to start another one today, e.g. --change-id CHG1234.`,
      );
    }
    throw err;
  }
  if (!executionArn) {
    throw new UnexpectedResponseError(`StartExecution of ${name} returned no executionArn.`, {
      fix: `Look for the execution with rekey status --bucket ${options.bucket}; start it again if it is not there.`,
    });
  }
  if (options.json) {
    io.out.write(`${JSON.stringify({ executionArn, name, bucket: options.bucket })}\n`);
  } else {
    io.out.write(
      [
        `Started ${name} for s3://${options.bucket}`,
        `  execution: ${executionArn}`,
        `  watch:     rekey status --execution ${executionArn} --watch`,
        `  stop:      rekey stop --execution ${executionArn}`,
        "",
      ].join("\n"),
    );
  }
  return 0;
}
