import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AWS_OPTIONS } from "./aws.ts";
import { approveCommand } from "./commands/approve.ts";
import { runsCommand } from "./commands/runs.ts";
import { startCommand } from "./commands/start.ts";
import { statusCommand } from "./commands/status.ts";
import { stopCommand } from "./commands/stop.ts";
import { demoCommand } from "./demo.ts";
import { CommandFailedError, ExitCodes, UsageError, unreachableEndpoint } from "./errors.ts";
import { engineFlag } from "./flags.ts";
import type { Io } from "./io.ts";
import { sandboxCommand, sandboxDeliverInventory, sandboxSeed } from "./sandbox-command.ts";

export const HELP = `rekey: re-encrypt every current object of an S3 bucket to SSE-KMS with S3 Bucket Keys.

Operating runs (AWS, or the sandbox with --endpoint / AWS_ENDPOINT_URL):
  rekey start --bucket B --kms-key ARN [--inventory-config ID | --source generate] [--work-bucket W]
              [--engine auto|stream|select|athena] [--change-id C] [--inventory-wait-hours N] [--inventory-poll-seconds N] [--job-poll-min-seconds N]
              [--job-poll-max-seconds N] [--job-priority N] [--verify-sample-size N] [--require-approval] [--json]
                        Validate, then start one execution named <bucket>-<yyyymmdd>[-<change id>]
                        (--inventory-config: plan from an S3 Inventory delivered after default encryption, up to
                        48 h away; without it, Batch Operations' manifest generator lists the bucket now;
                        --engine: how the inventory is filtered: read in the step (stream), by S3 Select per data
                        file (select), by Athena queries (athena); auto, the default, chooses by size and says why;
                        --require-approval: the copy jobs wait for rekey approve before copying anything)
  rekey status (--bucket B | --execution ARN) [--watch] [--interval S] [--json]
                        Where a run is, job progress and time left, the final report when done
  rekey approve --execution ARN [--json]
                        Let the copy jobs of a run waiting for approval start
  rekey stop --execution ARN [--reason TEXT] [--json]
                        Stop a run and cancel its Batch Operations jobs
  rekey runs [--bucket B] [--limit N] [--json]
                        Recent runs with their outcome
  Every run command takes --region R, --profile P, --endpoint URL and --state-machine ARN
  (default: REKEY_STATE_MACHINE_ARN, else the account's one state machine named rekey*). As with the aws CLI, the
  region comes from --region, AWS_REGION, AWS_DEFAULT_REGION, then the profile in ~/.aws/config; credentials from
  the environment's keys, else the profile (--profile or AWS_PROFILE: keys, SSO, roles).

Local sandbox:
  rekey demo [--objects N] [--tasks-per-second N] [--source generate | --engine stream|select|athena]
                                      Re-encrypt a seeded bucket end to end in a fresh sandbox
                                      (--source generate: plan from the manifest generator, no inventory;
                                      --engine: filter the inventory that way)
  rekey sandbox [--port P] [--host H] [--data-dir DIR] [--verbose]
                                      Serve the local AWS sandbox in the foreground, with rekey deployed into it
                                      (--data-dir or REKEY_SANDBOX_DATA_DIR: keep its state there across restarts)
  rekey sandbox seed --bucket B [--objects N] [--endpoint URL] [--env]
                                      Fill a bucket of a running sandbox with the demo's mix of objects
                                      (--env: print BUCKET, KMS_KEY_ARN, INVENTORY_ID as shell exports)
  rekey sandbox deliver-inventory --bucket B --inventory-config ID [--endpoint URL]
                                      Make S3 deliver the bucket's inventory now

rekey <command> --help shows one command; rekey --version the version.
Exit codes: 0 done (or still running), 1 the run or command failed, 2 bad usage or setup (no region, no
credentials, an unknown profile, a run that does not exist), 70 internal error.
From a checkout: npm run rekey -- <command> [options]
`;

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive whole number, not "${value}".`);
  return n;
}

const RUN_OPTION_FLAGS = {
  "inventory-wait-hours": (n: number) => ({ inventoryWaitSeconds: n * 3600 }),
  "inventory-poll-seconds": (n: number) => ({ inventoryPollSeconds: n }),
  "job-poll-min-seconds": (n: number) => ({ jobPollMinSeconds: n }),
  "job-poll-max-seconds": (n: number) => ({ jobPollMaxSeconds: n }),
  "job-priority": (n: number) => ({ jobPriority: n }),
  "verify-sample-size": (n: number) => ({ verifySampleSize: n }),
} as const;

/** Runs one CLI invocation and returns its exit code; expected problems become messages, not stack traces. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
      io.err.write(`rekey: ${(err as Error).message}\n`);
      return ExitCodes.usage;
    }
    if (err instanceof CommandFailedError) {
      io.err.write(`rekey: ${err.message}\n`);
      return ExitCodes.failed;
    }
    const unreachable = unreachableEndpoint(err);
    if (unreachable) {
      io.err.write(`rekey: ${unreachable}\n`);
      return ExitCodes.failed;
    }
    const e = err as { name?: string; message?: string; $metadata?: unknown; stack?: string };
    if (e?.name === "CredentialsProviderError") {
      // The SDK's provider chain found no credentials (or the profile's cannot be used): the operator's setup.
      io.err.write(
        `rekey: no AWS credentials could be loaded: ${e.message}
Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with --profile / AWS_PROFILE (aws configure, or aws sso login for an SSO profile).
`,
      );
      return ExitCodes.usage;
    }
    if (e?.name === "ExecutionDoesNotExist" || e?.name === "InvalidArn") {
      // A run named that does not exist is bad input, like a bucket with no run (exit 2 for both).
      io.err.write(
        `rekey: no such run: ${e.message}\nCheck the execution ARN (rekey runs lists the runs, rekey status --bucket B finds a bucket's latest).\n`,
      );
      return ExitCodes.usage;
    }
    if (e?.$metadata) {
      // An AWS error the command did not expect: name it and say where it came from, without a stack trace.
      io.err.write(
        `rekey: AWS answered ${e.name}: ${e.message}\nCheck the region, credentials and permissions, then try again.\n`,
      );
      return ExitCodes.failed;
    }
    io.err.write(`rekey: internal error (please report it with what you ran):\n${e?.stack ?? String(err)}\n`);
    return ExitCodes.internal;
  }
}

/** `rekey/<version> node/<version>`, as `aws --version` names itself and its runtime. */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return `rekey/${pkg.version} node/${process.version}\n`;
}

/**
 * One command's part of HELP (its usage lines, up to the next command), with the options every run command takes;
 * undefined for a command HELP does not list.
 */
export function commandHelp(command: string): string | undefined {
  const lines = HELP.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`  rekey ${command} `) || l === `  rekey ${command}`);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && /^\s{3,}/.test(lines[end] ?? "") && !lines[end]?.startsWith("  rekey ")) end++;
  const common = lines.findIndex((l) => l.startsWith("  Every run command takes"));
  const shared =
    RUN_COMMANDS.has(command) && common >= 0 ? lines.slice(common, common + 5).filter((l) => l.trim()) : [];
  return `${["Usage:", ...lines.slice(start, end), ...shared].join("\n")}\n`;
}

const RUN_COMMANDS = new Set(["start", "status", "approve", "stop", "runs"]);

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [command = "help", ...rest] = argv;
  if (command === "--version" || command === "version") {
    io.out.write(versionLine());
    return ExitCodes.ok;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const help = commandHelp(
      command === "sandbox" && rest[0] && !rest[0].startsWith("-") ? `sandbox ${rest[0]}` : command,
    );
    if (help === undefined) throw new UsageError(`Unknown command "${command}". Run rekey help for the list.`);
    io.out.write(help);
    return ExitCodes.ok;
  }
  switch (command) {
    case "start": {
      const runOptionFlags = Object.fromEntries(
        Object.keys(RUN_OPTION_FLAGS).map((k) => [k, { type: "string" as const }]),
      );
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: {
          ...AWS_OPTIONS,
          bucket: { type: "string" },
          "kms-key": { type: "string" },
          "inventory-config": { type: "string" },
          source: { type: "string" },
          engine: { type: "string" },
          "work-bucket": { type: "string" },
          "change-id": { type: "string" },
          "require-approval": { type: "boolean" },
          json: { type: "boolean" },
          ...runOptionFlags,
        },
      });
      const v = values as Record<string, string | boolean | undefined>;
      const runOptions: Record<string, number | boolean> = {};
      for (const [flag, toOption] of Object.entries(RUN_OPTION_FLAGS)) {
        const n = positiveInt(v[flag] as string | undefined, flag);
        if (n !== undefined) Object.assign(runOptions, toOption(n));
      }
      if (v["require-approval"] === true) runOptions.requireApproval = true;
      return startCommand(
        {
          ...awsOptions(v),
          bucket: v.bucket as string | undefined,
          kmsKey: v["kms-key"] as string | undefined,
          inventoryConfig: v["inventory-config"] as string | undefined,
          source: v.source as string | undefined,
          engine: v.engine as string | undefined,
          workBucket: v["work-bucket"] as string | undefined,
          changeId: v["change-id"] as string | undefined,
          runOptions,
          json: v.json === true,
        },
        io,
      );
    }
    case "status": {
      const { values: v } = parseArgs({
        args: rest,
        options: {
          ...AWS_OPTIONS,
          bucket: { type: "string" },
          execution: { type: "string" },
          watch: { type: "boolean" },
          json: { type: "boolean" },
          interval: { type: "string" },
        },
      });
      return statusCommand(
        {
          ...awsOptions(v),
          bucket: v.bucket,
          execution: v.execution,
          watch: v.watch ?? false,
          json: v.json ?? false,
          interval: positiveInt(v.interval, "interval") ?? 10,
        },
        io,
      );
    }
    case "approve": {
      const { values: v } = parseArgs({
        args: rest,
        options: { ...AWS_OPTIONS, execution: { type: "string" }, json: { type: "boolean" } },
      });
      return approveCommand({ ...awsOptions(v), execution: v.execution, json: v.json ?? false }, io);
    }
    case "stop": {
      const { values: v } = parseArgs({
        args: rest,
        options: {
          ...AWS_OPTIONS,
          execution: { type: "string" },
          reason: { type: "string" },
          json: { type: "boolean" },
        },
      });
      return stopCommand({ ...awsOptions(v), execution: v.execution, reason: v.reason, json: v.json ?? false }, io);
    }
    case "runs": {
      const { values: v } = parseArgs({
        args: rest,
        options: { ...AWS_OPTIONS, bucket: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" } },
      });
      return runsCommand(
        { ...awsOptions(v), bucket: v.bucket, limit: positiveInt(v.limit, "limit") ?? 20, json: v.json ?? false },
        io,
      );
    }
    case "demo": {
      const { values } = parseArgs({
        args: rest,
        options: {
          objects: { type: "string" },
          "tasks-per-second": { type: "string" },
          source: { type: "string" },
          engine: { type: "string" },
        },
      });
      if (values.source !== undefined && values.source !== "inventory" && values.source !== "generate") {
        throw new UsageError(`--source must be "inventory" or "generate", not "${values.source}".`);
      }
      const engine = engineFlag(values.engine);
      if (engine !== undefined && engine !== "auto" && engine !== "stream" && values.source === "generate") {
        throw new UsageError(`--engine ${engine} filters an inventory; --source generate has none. Drop one of them.`);
      }
      await demoCommand({
        source: values.source ?? "inventory",
        ...(engine ? { engine } : {}),
        objects: positiveInt(values.objects, "objects") ?? 10_000,
        tasksPerSecond: positiveInt(values["tasks-per-second"], "tasks-per-second") ?? 2_000,
      });
      return ExitCodes.ok;
    }
    case "sandbox":
      return sandboxDispatch(rest, io);
    case "help":
    case "--help":
    case "-h":
      io.out.write(HELP);
      return ExitCodes.ok;
    default:
      throw new UsageError(`Unknown command "${command}". Run rekey help for the list.`);
  }
}

async function sandboxDispatch(args: string[], io: Io): Promise<number> {
  const [sub] = args;
  if (sub === "seed") {
    const { values: v } = parseArgs({
      args: args.slice(1),
      options: {
        endpoint: { type: "string" },
        bucket: { type: "string" },
        objects: { type: "string" },
        env: { type: "boolean" },
      },
    });
    if (!v.bucket) throw new UsageError("--bucket is required.");
    return sandboxSeed(
      {
        endpoint: sandboxEndpoint(v.endpoint, io),
        bucket: v.bucket,
        objects: positiveInt(v.objects, "objects") ?? 500,
        env: v.env ?? false,
      },
      io,
    );
  }
  if (sub === "deliver-inventory") {
    const { values: v } = parseArgs({
      args: args.slice(1),
      options: { endpoint: { type: "string" }, bucket: { type: "string" }, "inventory-config": { type: "string" } },
    });
    if (!v.bucket || !v["inventory-config"]) throw new UsageError("--bucket and --inventory-config are required.");
    return sandboxDeliverInventory(
      { endpoint: sandboxEndpoint(v.endpoint, io), bucket: v.bucket, configurationId: v["inventory-config"] },
      io,
    );
  }
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  const port = values.port === undefined ? 4599 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0 to 65535, not "${values.port}".`);
  await sandboxCommand({
    port,
    host: values.host ?? "127.0.0.1",
    verbose: values.verbose ?? false,
    dataDir: values["data-dir"] ?? (io.env.REKEY_SANDBOX_DATA_DIR || undefined),
  });
  return ExitCodes.ok;
}

function sandboxEndpoint(flag: string | undefined, io: Io): string {
  const endpoint = flag ?? io.env.AWS_ENDPOINT_URL;
  if (!endpoint)
    throw new UsageError("Pass --endpoint (the sandbox's URL, e.g. http://127.0.0.1:4599) or set AWS_ENDPOINT_URL.");
  return endpoint;
}

function awsOptions(v: Record<string, unknown>) {
  const s = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  return { endpoint: s("endpoint"), region: s("region"), profile: s("profile"), stateMachine: s("state-machine") };
}
