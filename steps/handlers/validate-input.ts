import { z } from "zod";
import type { RunContext } from "../../contract/run-context.ts";
import { RunOptionsSchema } from "../../contract/run-context.ts";
import { StateNames } from "../../contract/states.ts";
import { takeBucketLock } from "../aws/bucket-lock.ts";
import { checkRunRequest } from "../aws/run-request-checks.ts";
import { defineStep } from "../runtime/step.ts";

const Input = z.object({
  request: z.unknown(),
  execution: z.object({ id: z.string(), name: z.string(), startTime: z.string() }),
});

export const validateInput = defineStep({
  state: StateNames.validateInput,
  input: Input,
  async run({ request, execution }, { clients, config, now }): Promise<RunContext> {
    const {
      request: req,
      accountId,
      region,
      workBucket,
      source,
    } = await checkRunRequest(clients, request, {
      workBucket: config.workBucket,
      athenaDeployed: config.athena !== undefined,
    });
    const run: RunContext = {
      runId: execution.name,
      executionId: execution.id,
      bucket: req.bucket,
      kmsKeyArn: req.kmsKeyArn,
      region,
      accountId,
      workBucket,
      source,
      ...(req.inventoryConfigurationId === undefined ? {} : { inventoryConfigurationId: req.inventoryConfigurationId }),
      engine: req.engine ?? "auto",
      runPrefix: `runs/${req.bucket}/${execution.name}/`,
      startedAt: execution.startTime || now().toISOString(),
      options: RunOptionsSchema.parse(req.options ?? {}),
    };
    // Last, once the request is known to be valid, and before any state writes to the bucket: one run per bucket
    // (steps/aws/bucket-lock.ts). The end states release it.
    await takeBucketLock(clients, workBucket, run.bucket, {
      executionArn: run.executionId,
      runId: run.runId,
      startedAt: run.startedAt,
    });
    return run;
  },
});
