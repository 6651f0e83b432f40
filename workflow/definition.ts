import { InvariantViolatedError } from "../contract/errors.ts";
import { StateNames } from "../contract/states.ts";
import { fanOut } from "./fan-out.ts";
import { type Json, task } from "./task-state.ts";

/**
 * The rekey state machine, one source for AWS (infra/ deploys it with definitionSubstitutions) and for the
 * sandbox (local/deploy.ts creates it there with CreateStateMachine). JSONPath only, no variables: the sandbox's
 * engine (aws-local-stepfunctions) ignores JSONata and Assign.
 *
 * Task states name a Lambda function by a `${Placeholder}` that the deployment substitutes with the function ARN.
 * Invoking a Lambda function ARN directly keeps the state's output equal to the function's return value on AWS
 * and locally alike.
 */

/**
 * What one "Copy objects directly" invocation may spend: 13 of the 15 minutes, leaving the step's own margin (a part
 * in flight finishes) and time to save progress. The loop calls it again until the list is done.
 */
export const LARGE_COPY_TIME_BUDGET_MS = 13 * 60_000;
/**
 * What one "Filter inventory and write manifests" invocation may spend before it stops between data files and saves
 * its progress: 13 of the 15 minutes. Data files are read whole, so it does not begin one that, taking as long as
 * the longest it has read, would end past the budget; the 2 minutes left are for saving. The slice's own execution
 * calls it again (7 events of the child's history a round; none of the run's).
 */
export const PLANNING_TIME_BUDGET_MS = 13 * 60_000;

/**
 * How long "Slice the inventory" waits for the athena engine's queries in one invocation before it returns
 * `querying` and the run waits ATHENA_WAIT_SECONDS to ask again (about 8 events of the run's history a round, some
 * 50 an hour): Athena's time is not bounded by a Lambda invocation's 15 minutes.
 */
export const SLICING_TIME_BUDGET_MS = 10 * 60_000;
export const ATHENA_WAIT_SECONDS = 60;
/**
 * Compressed inventory bytes a slice aims at ("Slice the inventory", steps/domain/slices.ts): at the stream engine's
 * measured 15,000-25,000 rows a second per invocation and about 50 gzip bytes a row (bench/results/plan-scale.md),
 * some 10 million rows, one invocation or two. Smaller slices plan in more parallel children, each adding parts for
 * "Combine the plan" to join. At most MAX_SLICES slices; a larger delivery gets larger slices.
 */
export const PLANNING_SLICE_BYTES = 512 * 1024 * 1024;
/**
 * Slices planned at once. Each child keeps up to 256 HeadObject requests in flight (steps/aws/head-pipeline.ts)
 * against the bucket being planned, whose prefixes S3 serves at 5,500 GET/HEAD a second each
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html), and takes one of the
 * account's Lambda concurrency (1,000 by default): 10 plans a billion rows in about 1.5 hours at 20,000 rows a second
 * per child, without crowding the applications that share both.
 */
export const PLANNING_CONCURRENCY = 10;
/**
 * What one "Read completion reports" invocation may spend reading its slice's result files: 8 of its 10 minutes
 * (steps/runtime/functions.ts), leaving time to count the rows waiting for HeadObject and save its progress; the
 * slice's own execution calls it again until the slice is read.
 *
 * The history bound: the run's history holds three states of verification whatever the bucket's size ("Slice the
 * completion reports", the Map Run of "Verify each slice", "Verify results"); each round of a slice's loop adds 7
 * events (TaskStateEntered, LambdaFunctionScheduled, Started, Succeeded, TaskStateExited, ChoiceStateEntered,
 * ChoiceStateExited) to that slice's own history, whose 25,000 allow some 3,500 rounds, 3,500 x 480 s = 460 hours
 * of one slice's reading. A slice is about VERIFY_SLICE_BYTES of report files, read in one invocation or two.
 */
export const VERIFY_TIME_BUDGET_MS = 8 * 60_000;
/**
 * Bytes of completion report files a slice of verification aims at ("Slice the completion reports",
 * steps/domain/slices.ts): a report row is some 150 to 250 bytes (bucket, encoded key, version, status, codes and
 * message), so about 1.3 million rows, which one invocation reads at 5,000 rows a second within its budget (the
 * arithmetic at VERIFY_TIME_BUDGET_MS). At most MAX_SLICES slices; larger reports get larger slices.
 */
export const VERIFY_SLICE_BYTES = 256 * 1024 * 1024;
/**
 * Slices verified at once. Each child streams its report files from the work bucket (GET requests, which S3 serves
 * at 5,500 a second per prefix, https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html)
 * and keeps up to 16 HeadObject requests in flight against the bucket for rows that need a look; each takes one of
 * the account's Lambda concurrency (1,000 by default): 10 reads 3 billion rows in about 17 hours at 5,000 rows a
 * second per child, without crowding the applications that share the bucket and the account.
 */
export const VERIFY_CONCURRENCY = 10;
/**
 * A run that has not finished after three weeks has lost its operator. (The sandbox's engine arms one Node timer for
 * the whole execution, which caps this below 24.8 days.)
 */
const EXECUTION_TIMEOUT_SECONDS = 21 * 24 * 3600;

export function rekeyDefinition(): Record<string, Json> {
  const S = StateNames;
  return {
    Comment:
      "rekey: bring every current object of one S3 bucket to SSE-KMS under one customer-managed key with S3 Bucket Keys, and prove it.",
    StartAt: S.validateInput,
    TimeoutSeconds: EXECUTION_TIMEOUT_SECONDS,
    States: {
      [S.validateInput]: task(
        S.validateInput,
        "Check the request and read-only facts about bucket, key and inventory configuration.",
        {
          Parameters: {
            "request.$": "$",
            execution: {
              "id.$": "$$.Execution.Id",
              "name.$": "$$.Execution.Name",
              "startTime.$": "$$.Execution.StartTime",
            },
          },
          ResultPath: "$.run",
          Next: S.preflight,
        },
      ),
      [S.preflight]: task(
        S.preflight,
        "Read-only facts about bucket and key (versioning, Object Lock, replication, notifications, lifecycle, ACLs, policies, key policy): blockers stop the run before anything is written, warnings go into the report.",
        {
          Parameters: { "run.$": "$.run", "acknowledge.$": "$.run.options.acknowledge" },
          ResultPath: "$.preflight",
          Next: S.enforceDefaultEncryption,
        },
      ),
      [S.enforceDefaultEncryption]: task(
        S.enforceDefaultEncryption,
        "Set bucket default encryption to SSE-KMS with the target key and Bucket Key, so every new write is compliant; record when.",
        {
          Parameters: { "run.$": "$.run" },
          ResultPath: "$.defaultEncryption",
          Next: S.findInventory,
        },
      ),
      [S.findInventory]: task(
        S.findInventory,
        "Look for an S3 Inventory report delivered after default encryption was enforced.",
        {
          Parameters: { "run.$": "$.run", "defaultEncryption.$": "$.defaultEncryption" },
          ResultPath: "$.inventory",
          Next: S.isInventoryReady,
        },
      ),
      [S.isInventoryReady]: {
        Type: "Choice",
        Comment: "S3 delivers the first inventory within 48 hours; until then the run waits here.",
        Choices: [{ Variable: "$.inventory.found", BooleanEquals: true, Next: S.sliceInventory }],
        Default: S.waitForInventory,
      },
      [S.waitForInventory]: {
        Type: "Wait",
        Comment: "Waits the interval Find inventory chose; Find inventory fails the run once the wait deadline passes.",
        SecondsPath: "$.inventory.waitSeconds",
        Next: S.findInventory,
      },
      [S.sliceInventory]: task(
        S.sliceInventory,
        "Choose how to read the inventory (the engine), run the athena engine's queries, and cut the data files into slices planned in parallel; a plan already complete for this inventory is reused.",
        {
          Parameters: {
            "run.$": "$.run",
            "inventory.$": "$.inventory",
            sliceTargetBytes: PLANNING_SLICE_BYTES,
            timeBudgetMs: SLICING_TIME_BUDGET_MS,
          },
          ResultPath: "$.slicing",
          Next: S.isPlanStored,
        },
      ),
      [S.isPlanStored]: {
        Type: "Choice",
        Comment:
          "An earlier execution planned this inventory completely: its plan (and the jobs made from it) is reused.",
        Choices: [
          { Variable: "$.slicing.stored", BooleanEquals: true, Next: S.useStoredPlan },
          { Variable: "$.slicing.querying", IsPresent: true, Next: S.waitForAthena },
        ],
        Default: S.planSlices,
      },
      [S.waitForAthena]: {
        Type: "Wait",
        Comment:
          "The athena engine's queries were still running at the step's time budget; Slice the inventory then asks again and finds them by their tokens.",
        Seconds: ATHENA_WAIT_SECONDS,
        Next: S.sliceInventory,
      },
      [S.useStoredPlan]: {
        Type: "Pass",
        Comment: "Hands the stored plan on as the plan.",
        InputPath: "$.slicing.plan",
        ResultPath: "$.plan",
        Next: S.anythingToCopy,
      },
      [S.planSlices]: fanOut({
        comment:
          "One child execution per slice, a bounded number at a time: each filters its data files and writes its part of every manifest, continuing across invocations at its time budget. Their histories are their own, so this run's stays small at any bucket size.",
        slicing: "slicing",
        with: { run: "$.run", inventory: "$.inventory" },
        step: S.writeManifests,
        stepComment:
          "Stream this slice's data files, keep current unencrypted objects, and write the slice's part of every manifest.",
        constants: { timeBudgetMs: PLANNING_TIME_BUDGET_MS },
        loopChoice: S.isSliceDone,
        loopChoiceComment:
          "An invocation that reached its time budget saved its progress; the next one continues the slice.",
        loopWhile: "planning",
        done: S.sliceDone,
        doneComment: "The slice's parts and summary are in the work bucket; its result says how many rows it read.",
        maxConcurrency: PLANNING_CONCURRENCY,
        resultPath: "$.slicesPlanned",
        next: S.combinePlan,
      }),
      [S.combinePlan]: task(
        S.combinePlan,
        "Join every slice's part of each manifest into one Batch Operations manifest (copied by S3 where it can), add up the slices' counts, estimate the cost and write plan.json.",
        {
          Parameters: {
            "run.$": "$.run",
            "inventory.$": "$.inventory",
            "slicing.$": "$.slicing",
            "preflight.$": "$.preflight",
          },
          ResultPath: "$.plan",
          Next: S.anythingToCopy,
        },
      ),
      [S.anythingToCopy]: {
        Type: "Choice",
        Comment: "A bucket with nothing to copy goes straight to verification.",
        Choices: [{ Variable: "$.plan.manifests[0]", IsPresent: true, Next: S.createCopyJobs }],
        Default: S.noCopyJobs,
      },
      [S.noCopyJobs]: {
        Type: "Pass",
        Comment: "Records that no job was created, so verification still runs on the plan's counts.",
        Result: { jobs: [] },
        ResultPath: "$.jobs",
        Next: S.anyLargeObjects,
      },
      [S.createCopyJobs]: task(
        S.createCopyJobs,
        "Create one S3PutObjectCopy job per manifest, each copy conditional on the object being unmodified since default encryption was enforced; the request token makes a retry return the same job.",
        {
          Parameters: { "run.$": "$.run", "plan.$": "$.plan", "defaultEncryption.$": "$.defaultEncryption" },
          ResultPath: "$.jobs",
          Next: S.isThereAJobSlot,
        },
      ),
      [S.isThereAJobSlot]: {
        Type: "Choice",
        Comment:
          "With the run's maxActiveJobs set, Create copy jobs creates none while the account's other live rekey jobs leave no room for this run's.",
        Choices: [{ Variable: "$.jobs.waitingForSlots", IsPresent: true, Next: S.waitForJobSlot }],
        Default: S.checkCopyJobs,
      },
      [S.waitForJobSlot]: {
        Type: "Wait",
        Comment: "Other runs' copy jobs hold the account's slots; ask again after the wait Create copy jobs chose.",
        SecondsPath: "$.jobs.waitingForSlots.waitSeconds",
        Next: S.createCopyJobs,
      },
      [S.checkCopyJobs]: task(
        S.checkCopyJobs,
        "Read every job's status and progress, and choose how long to wait before looking again; cancel a job whose tasks fail for access or key reasons, and redrive tasks that failed transiently in a new job, with a growing wait, up to taskAttempts.",
        {
          Parameters: {
            "run.$": "$.run",
            "jobs.$": "$.jobs",
            "plan.$": "$.plan",
            "defaultEncryption.$": "$.defaultEncryption",
          },
          ResultPath: "$.progress",
          Next: S.areJobsDone,
        },
      ),
      [S.areJobsDone]: {
        Type: "Choice",
        Comment:
          "Every job Complete, Failed or Cancelled, with no redrive job just created or due, ends the polling loop; jobs awaiting confirmation wait for the operator.",
        Choices: [
          { Variable: "$.progress.redriven", IsPresent: true, Next: S.keepRedriveJobs },
          { Variable: "$.progress.done", BooleanEquals: true, Next: S.anyLargeObjects },
          { Variable: "$.progress.awaitingApproval", BooleanEquals: true, Next: S.waitingForApproval },
        ],
        Default: S.waitForJobs,
      },
      [S.keepRedriveJobs]: {
        Type: "Pass",
        Comment:
          "Check copy jobs created redrive jobs: the run's job list with them replaces $.jobs, so later checks and Verify results read them too.",
        InputPath: "$.progress.redriven",
        ResultPath: "$.jobs",
        Next: S.waitForJobs,
      },
      [S.waitingForApproval]: {
        Type: "Wait",
        Comment:
          "The jobs exist but copy nothing until the operator approves (rekey approve) or stops (rekey stop) the run; $.plan shows what they will do.",
        SecondsPath: "$.progress.waitSeconds",
        Next: S.checkCopyJobs,
      },
      [S.waitForJobs]: {
        Type: "Wait",
        Comment:
          "The wait grows with the jobs' remaining time, so a job of any length stays far below the 25,000-event history limit.",
        SecondsPath: "$.progress.waitSeconds",
        Next: S.checkCopyJobs,
      },
      [S.anyLargeObjects]: {
        Type: "Choice",
        Comment:
          "What Batch Operations cannot take (unencrypted objects over 5 GiB, keys a manifest cannot carry) rekey copies itself, after the jobs (and so after approval).",
        Choices: [{ Variable: "$.plan.largeObjects", IsPresent: true, Next: S.copyLargeObjects }],
        Default: S.noLargeObjects,
      },
      [S.noLargeObjects]: {
        Type: "Pass",
        Comment: "Records that there was nothing to copy directly.",
        Result: { done: true, total: 0 },
        ResultPath: "$.largeCopy",
        Next: S.sliceReports,
      },
      [S.copyLargeObjects]: task(
        S.copyLargeObjects,
        "Copy each listed object onto itself under the target key, guarded by its ETag and keeping metadata, tags and storage class: CopyObject up to 5 GiB, UploadPartCopy above; stops at its time budget and saves progress.",
        {
          Parameters: {
            "run.$": "$.run",
            "plan.$": "$.plan",
            "jobs.$": "$.jobs",
            timeBudgetMs: LARGE_COPY_TIME_BUDGET_MS,
          },
          ResultPath: "$.largeCopy",
          Next: S.areLargeObjectsDone,
        },
      ),
      [S.areLargeObjectsDone]: {
        Type: "Choice",
        Comment: "An invocation that reached its time budget saved its uploads; the next one continues them.",
        Choices: [{ Variable: "$.largeCopy.done", BooleanEquals: true, Next: S.sliceReports }],
        Default: S.copyLargeObjects,
      },
      [S.sliceReports]: task(
        S.sliceReports,
        "List every job's completion report files, with the MD5s their report manifests give, and cut them into slices read in parallel.",
        {
          Parameters: {
            "run.$": "$.run",
            "plan.$": "$.plan",
            "jobs.$": "$.jobs",
            sliceTargetBytes: VERIFY_SLICE_BYTES,
          },
          ResultPath: "$.reportSlicing",
          Next: S.verifySlices,
        },
      ),
      [S.verifySlices]: fanOut({
        comment:
          "One child execution per slice of the report files, a bounded number at a time: each counts its rows, lists its failed rows and samples its re-encrypted ones, continuing across invocations at its time budget. Their histories are their own, so this run's stays small at any bucket size.",
        slicing: "reportSlicing",
        with: { run: "$.run" },
        step: S.readReports,
        stepComment:
          "Read this slice's report files, each checked against its MD5: count every row, HeadObject the rows that say missing or modified, list failed rows and sample re-encrypted ones.",
        constants: { timeBudgetMs: VERIFY_TIME_BUDGET_MS },
        loopChoice: S.isSliceVerified,
        loopChoiceComment:
          "An invocation that reached its time budget saved its progress; the next one continues the slice.",
        loopWhile: "verifying",
        done: S.sliceVerified,
        doneComment:
          "The slice's counts, failed rows and sample are in the work bucket; its result says how many rows it read.",
        maxConcurrency: VERIFY_CONCURRENCY,
        resultPath: "$.slicesVerified",
        next: S.verifyResults,
      }),
      [S.verifyResults]: task(
        S.verifyResults,
        "Add the slices' counts to the plan's and the large-object results, account for every object, join failed.csv, and spot-check a uniform sample of re-encrypted objects with HeadObject.",
        {
          Parameters: {
            "run.$": "$.run",
            "plan.$": "$.plan",
            "largeCopy.$": "$.largeCopy",
            "reportSlicing.$": "$.reportSlicing",
          },
          ResultPath: "$.verification",
          Next: S.lookForNonCompliantObjects,
        },
      ),
      [S.lookForNonCompliantObjects]: task(
        S.lookForNonCompliantObjects,
        "Prove from a source other than the plan that no non-compliant current object remains: HeadObject of every planned object for small plans, a fresh manifest-generator listing otherwise.",
        {
          Parameters: { "run.$": "$.run", "plan.$": "$.plan", "defaultEncryption.$": "$.defaultEncryption" },
          ResultPath: "$.bucketCheck",
          Next: S.isBucketCheckDone,
        },
      ),
      [S.isBucketCheckDone]: {
        Type: "Choice",
        Comment: "The manifest generator's listing takes a while; the check is called again after a wait.",
        Choices: [{ Variable: "$.bucketCheck.done", BooleanEquals: true, Next: S.writeFinalReport }],
        Default: S.waitForBucketCheck,
      },
      [S.waitForBucketCheck]: {
        Type: "Wait",
        Comment: "Waits the interval the check chose; it fails the run once the listing outlives inventoryWaitSeconds.",
        SecondsPath: "$.bucketCheck.waitSeconds",
        Next: S.lookForNonCompliantObjects,
      },
      [S.writeFinalReport]: task(
        S.writeFinalReport,
        "Write the JSON report and a short summary to the work bucket, and return the summary.",
        {
          Parameters: {
            "run.$": "$.run",
            "plan.$": "$.plan",
            "verification.$": "$.verification",
            "bucketCheck.$": "$.bucketCheck",
            "preflight.$": "$.preflight",
          },
          ResultPath: "$.report",
          OutputPath: "$.report",
          Next: S.didEveryObjectSucceed,
        },
      ),
      [S.didEveryObjectSucceed]: {
        Type: "Choice",
        Comment:
          "Objects that failed to re-encrypt, or non-compliant objects rekey could have fixed, fail the run, so alarms and change-window scripts see it.",
        Choices: [{ Variable: "$.outcome", StringEquals: "succeeded", Next: S.reencrypted }],
        Default: S.finishedWithFailures,
      },
      [S.reencrypted]: {
        Type: "Succeed",
        Comment:
          "Every object rekey copied is SSE-KMS under the target key with Bucket Key; the report lists the rest with reasons.",
      },
      [S.finishedWithFailures]: {
        Type: "Fail",
        Comment: "The report in the work bucket lists each failed object with its reason.",
        Error: "ObjectsNotReencrypted",
        CausePath: "$.summary",
      },
      [S.recordFailure]: task(S.recordFailure, "Write why the run stopped to the work bucket, with what to do next.", {
        Parameters: { "state.$": "$" },
        ResultPath: "$.failure",
        OutputPath: "$.failure",
        Next: S.runFailed,
        catchable: false,
      }),
      [S.runFailed]: {
        Type: "Fail",
        Comment: "The run stopped; Cause says why and what to do.",
        ErrorPath: "$.error",
        CausePath: "$.cause",
      },
    },
  };
}

/** The definition as deployed: JSON with `${Placeholder}` tokens for the function ARNs. */
export function rekeyDefinitionJson(): string {
  return JSON.stringify(rekeyDefinition(), null, 2);
}

/** Replaces `${Placeholder}` tokens, as Step Functions' definitionSubstitutions does. Unknown tokens are an error. */
export function substitute(definitionJson: string, values: Record<string, string>): string {
  return definitionJson.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) {
      throw new InvariantViolatedError(`No substitution for \${${name}} in the state machine definition.`, {
        fix: "Give the deployment a value for every placeholder in contract/states.ts FunctionPlaceholders.",
      });
    }
    return v;
  });
}
