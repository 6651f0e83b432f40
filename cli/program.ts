import { Command, InvalidArgumentError, Option } from "commander";
import { FILTER_ENGINE_CHOICES, type FilterEngineChoice } from "../contract/engines.ts";
import { ACKNOWLEDGEABLE_BLOCKERS, type AcknowledgeableCode } from "../contract/findings.ts";
import packageJson from "../package.json" with { type: "json" };
import type { AwsOptions } from "./aws.ts";
import { UsageError } from "./errors.ts";
import { FLEET_ORDERS, type FleetOrder } from "./fleet-buckets.ts";
import type { Io } from "./io.ts";
import { OUTPUT_FORMATS, type OutputChoice, type OutputFormat } from "./output.ts";

// Each command's code is imported when the command runs, so that `rekey --help` or `rekey runs` loads neither the
// sandbox nor the SDK clients another command needs.

/** `rekey/<version> node/<version>`, as `aws --version` names itself and its runtime. */
export function versionLine(): string {
  return `rekey/${packageJson.version} node/${process.version}`;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("It must be a positive whole number.");
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("It must be 0 to 65535.");
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const REGION_AND_CREDENTIALS = `
AWS options, as the aws CLI resolves them:
  region       --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region in ~/.aws/config
  credentials  AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when no profile is named, else the profile
               (--profile or AWS_PROFILE: keys, SSO after aws sso login, assumed roles, process credentials)
  endpoint     --endpoint or AWS_ENDPOINT_URL (the sandbox's URL); unset means AWS
  state machine --state-machine, else REKEY_STATE_MACHINE_ARN, else the one state machine named rekey*`;

const OUTPUT_HELP = `
Output: rekey's own view for people by default; --output json|text|table prints the data as the aws CLI does,
and --query filters it with JMESPath first (JSON unless --output says otherwise). With JSON output, errors are
JSON on stderr too.`;

const EXIT_CODES = `
Exit codes: 0 done (or still running), 1 the run or the command failed, 2 bad usage or setup (an unknown option,
no region, no credentials, an unknown profile, a run that does not exist, a start refused by its checks),
70 internal error (please report it).`;

/** The options every command that talks to AWS takes. */
function withAws(command: Command): Command {
  return (
    command
      .option("--region <region>", "AWS Region (see below)")
      .option("--profile <name>", "named profile from ~/.aws/config and ~/.aws/credentials")
      .option("--endpoint <url>", "endpoint URL, e.g. the sandbox's http://127.0.0.1:4599")
      // The aws CLI's name for it, so that a habit does not end in "unknown option".
      .addOption(new Option("--endpoint-url <url>").hideHelp())
      .option("--state-machine <arn>", "the rekey state machine, when the account has several")
      .addHelpText("after", REGION_AND_CREDENTIALS)
  );
}

/** The options of every command that prints data. */
function withOutput(command: Command): Command {
  return command
    .addOption(
      new Option("--output <format>", "json, text or table (default: a view for people)").choices(OUTPUT_FORMATS),
    )
    .option("--query <jmespath>", "JMESPath query applied to the data, as with the aws CLI")
    .addHelpText("after", OUTPUT_HELP);
}

type Flags = Record<string, unknown>;

function awsOptions(v: Flags): AwsOptions {
  const s = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  return {
    endpoint: s("endpoint") ?? s("endpointUrl"),
    region: s("region"),
    profile: s("profile"),
    stateMachine: s("stateMachine"),
  };
}

function outputChoice(v: Flags): OutputChoice {
  return { format: v.output as OutputFormat | undefined, query: v.query as string | undefined };
}

const RUN_OPTION_FLAGS = {
  inventoryWaitHours: (n: number) => ({ inventoryWaitSeconds: n * 3600 }),
  inventoryPollSeconds: (n: number) => ({ inventoryPollSeconds: n }),
  jobPollMinSeconds: (n: number) => ({ jobPollMinSeconds: n }),
  jobPollMaxSeconds: (n: number) => ({ jobPollMaxSeconds: n }),
  jobPriority: (n: number) => ({ jobPriority: n }),
  verifySampleSize: (n: number) => ({ verifySampleSize: n }),
  maxActiveJobs: (n: number) => ({ maxActiveJobs: n }),
} as const;

/** The request options of `start` and `fleet start`, from their flags; refuses a code that cannot be acknowledged. */
function runOptionsOf(v: Flags): Record<string, unknown> {
  const unknown = ((v.acknowledge as string[] | undefined) ?? []).filter(
    (c) => !(ACKNOWLEDGEABLE_BLOCKERS as readonly string[]).includes(c),
  );
  if (unknown.length) {
    throw new UsageError(
      `--acknowledge ${unknown.join(", ")}: not a code that can be acknowledged. Those that can: ${ACKNOWLEDGEABLE_BLOCKERS.join(", ")}.`,
    );
  }
  const runOptions: Record<string, unknown> = {};
  for (const [flag, toOption] of Object.entries(RUN_OPTION_FLAGS)) {
    if (typeof v[flag] === "number") Object.assign(runOptions, toOption(v[flag] as number));
  }
  if (v.requireApproval === true) runOptions.requireApproval = true;
  const acknowledge = v.acknowledge as AcknowledgeableCode[] | undefined;
  if (acknowledge?.length) runOptions.acknowledge = [...new Set(acknowledge)];
  return runOptions;
}

/** The options of a run's request that `start` and `fleet start` share. */
function withRunOptions(command: Command): Command {
  return command
    .option(
      "--acknowledge <code>",
      `accept a preflight blocker that allows it; repeatable (${ACKNOWLEDGEABLE_BLOCKERS.join(", ")})`,
      collect,
    )
    .option("--require-approval", "the copy jobs wait for rekey approve before copying anything")
    .option("--inventory-wait-hours <n>", "give up waiting for an inventory after N hours (default 72)", positiveInt)
    .option("--inventory-poll-seconds <n>", "seconds between looks for an inventory", positiveInt)
    .option("--job-poll-min-seconds <n>", "shortest wait between checks of the copy jobs", positiveInt)
    .option("--job-poll-max-seconds <n>", "longest wait between checks of the copy jobs", positiveInt)
    .option("--job-priority <n>", "Batch Operations job priority", positiveInt)
    .option("--verify-sample-size <n>", "objects the spot check reads back", positiveInt)
    .option(
      "--max-active-jobs <n>",
      "create copy jobs only while at most N of rekey's Batch Operations jobs run in the account (others' runs too)",
      positiveInt,
    );
}

/**
 * The rekey command line. Actions put their exit code in `exit.code`; commander's own errors (an unknown option, a
 * missing value) are thrown as CommanderError for runCli to turn into exit code 2.
 */
export function buildProgram(io: Io, exit: { code: number }, options: { quietErrors?: boolean } = {}): Command {
  const program = new Command("rekey")
    .description("Re-encrypt every current object of an S3 bucket to SSE-KMS with S3 Bucket Keys.")
    .version(versionLine(), "--version", "print the version")
    .helpCommand("help [command]", "show the help of a command")
    .exitOverride()
    .configureHelp({ helpWidth: 118, showGlobalOptions: false })
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      // With JSON output, runCli prints commander's errors itself, as JSON.
      writeErr: (s) => (options.quietErrors ? undefined : io.err.write(s)),
      outputError: (s, write) => write(s.replace(/^error: /, "rekey: ")),
    })
    .showSuggestionAfterError()
    .addHelpText("after", `${EXIT_CODES}\nFrom a checkout: npm run rekey -- <command> [options]`);
  program.command("version", { hidden: true }).action(() => {
    io.out.write(`${versionLine()}\n`);
  });

  withOutput(
    withAws(
      withRunOptions(program.command("start"))
        .summary("check a bucket, then start one run that re-encrypts it")
        .description(
          "Check the request, the bucket, the key and the preflight rules (read-only), then start one execution " +
            "named <bucket>-<yyyymmdd>[-<change id>] (-2, -3 … when the day's name is taken by an ended run). " +
            "A start refused by its checks starts nothing and leaves the name free.",
        )
        .requiredOption("--bucket <name>", "the bucket to re-encrypt")
        .requiredOption("--kms-key <arn>", "full ARN of the target customer managed key")
        .option(
          "--inventory-config <id>",
          "plan from this S3 Inventory configuration's next delivery (up to 48 h away); without it, Batch Operations' manifest generator lists the bucket now",
        )
        .addOption(new Option("--source <source>", "where the candidates come from").choices(["inventory", "generate"]))
        .addOption(
          new Option(
            "--engine <engine>",
            "how the inventory is filtered (default auto: chosen by the inventory's size, and the plan says why)",
          ).choices(FILTER_ENGINE_CHOICES),
        )
        .option("--work-bucket <name>", "work bucket for manifests and reports (default: the deployment's)")
        .option("--change-id <id>", "change ticket, appended to the execution name")
        .option("--dry-run", "run the checks and print what the run would do; start nothing"),
    ),
  ).action(async (v: Flags) => {
    const runOptions = runOptionsOf(v);
    const { startCommand } = await import("./commands/start.ts");
    exit.code = await startCommand(
      {
        ...awsOptions(v),
        bucket: v.bucket as string,
        kmsKey: v.kmsKey as string,
        inventoryConfig: v.inventoryConfig as string | undefined,
        source: v.source as "inventory" | "generate" | undefined,
        engine: v.engine as FilterEngineChoice | undefined,
        workBucket: v.workBucket as string | undefined,
        changeId: v.changeId as string | undefined,
        runOptions,
        dryRun: v.dryRun === true,
        output: outputChoice(v),
      },
      io,
    );
  });

  withOutput(
    withAws(
      program
        .command("status")
        .summary("how far a run is, how long it has taken, and anything wrong")
        .description(
          "Where a run is, in words: progress per route with time left, failures by reason, preflight warnings, and " +
            "where its evidence is (report, summary, manifests, skipped and failed lists). --watch redraws it in place " +
            "in a terminal (plain blocks when piped) until the run ends.",
        )
        .option("--bucket <name>", "the bucket's latest run")
        .option("--execution <arn>", "this run")
        .option("--watch", "refresh until the run ends")
        .option("--interval <seconds>", "seconds between refreshes with --watch", positiveInt, 10),
    ),
  ).action(async (v: Flags) => {
    const { statusCommand } = await import("./commands/status.ts");
    exit.code = await statusCommand(
      {
        ...awsOptions(v),
        bucket: v.bucket as string | undefined,
        execution: v.execution as string | undefined,
        watch: v.watch === true,
        interval: v.interval as number,
        output: outputChoice(v),
      },
      io,
    );
  });

  withOutput(
    withAws(
      program
        .command("report")
        .summary("a run's report and where its evidence is; --skipped / --failed print the lists")
        .description(
          "The final report of a run and the locations of its evidence in the work bucket. --skipped or --failed " +
            "streams that CSV list to stdout: skipped.csv is bucket,key,reason,storage_class,encryption_status,size; failed.csv is bucket,key,category,http_status,error_code,message (keys percent-encoded as in a manifest).",
        )
        .option("--bucket <name>", "the bucket's latest run")
        .option("--execution <arn>", "this run")
        .option("--skipped", "print skipped.csv: the objects the run left alone, and why")
        .option("--failed", "print failed.csv: the objects whose copy failed, and why"),
    ),
  ).action(async (v: Flags) => {
    const { reportCommand } = await import("./commands/report.ts");
    exit.code = await reportCommand(
      {
        ...awsOptions(v),
        bucket: v.bucket as string | undefined,
        execution: v.execution as string | undefined,
        list: v.skipped === true ? (v.failed === true ? "both" : "skipped") : v.failed === true ? "failed" : undefined,
        output: outputChoice(v),
      },
      io,
    );
  });

  withAws(
    program
      .command("scan")
      .summary("judge every bucket of the region against the target key: what each needs")
      .description(
        "Every bucket of the account and region (or those a prefix, a tag or --bucket names), judged against the target key by read-only calls: default encryption, versioning, Object Lock, replication, an inventory configuration a run can use and the counts of its latest delivery (objects not encrypted, not compliant), what preflight would find, a verdict: compliant, needs-default-encryption, needs-run, blocked (and why), or unknown; the estimated cost and duration of a run (from the inventory, else S3's storage metrics); and, where the AWS Config rule S3_DEFAULT_ENCRYPTION_KMS is deployed, its compliance results beside rekey's.",
      )
      .requiredOption("--kms-key <arn>", "full ARN of the target customer managed key")
      .option("--prefix <prefix>", "only buckets whose name starts with it")
      .option("--tag <key=value>", "only buckets with this tag")
      .option("--bucket <name>", "only these buckets; repeatable", collect)
      .addOption(
        new Option(
          "--engine <engine>",
          "how to count each latest inventory: auto (Athena for a large one where deployed, else read here), stream, athena",
        )
          .choices(["auto", "stream", "athena"])
          .default("auto"),
      )
      .addOption(
        new Option(
          "--key-checks <n>",
          "HeadObject calls a bucket may take to tell the key of SSE-KMS objects the inventory cannot (0: none)",
        )
          .argParser((value) => {
            const n = Number(value);
            if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("It must be a whole number, 0 or more.");
            return n;
          })
          .default(1000),
      ),
  )
    // withOutput's options, with csv besides: one row per bucket suits scan's list and no other command's data.
    .addOption(
      new Option("--output <format>", "json, text, table or csv (default: a view for people)").choices([
        ...OUTPUT_FORMATS,
        "csv",
      ]),
    )
    .option("--query <jmespath>", "JMESPath query applied to the data, as with the aws CLI")
    .addHelpText(
      "after",
      `${OUTPUT_HELP}\n--output csv prints one RFC 4180 row per bucket; with --query, the buckets the query selects.`,
    )
    .action(async (v: Flags) => {
      const tag = v.tag as string | undefined;
      const [tagKey, ...tagValue] = tag?.split("=") ?? [];
      if (tag !== undefined && (!tagKey || !tagValue.length)) {
        throw new UsageError(`--tag must be key=value, not "${tag}".`);
      }
      const csv = v.output === "csv";
      const { scanCommand } = await import("./commands/scan.ts");
      exit.code = await scanCommand(
        {
          ...awsOptions(v),
          kmsKey: v.kmsKey as string,
          filter: {
            prefix: v.prefix as string | undefined,
            names: v.bucket as string[] | undefined,
            ...(tag === undefined ? {} : { tag: { key: tagKey ?? "", value: tagValue.join("=") } }),
          },
          output: csv ? { query: v.query as string | undefined } : outputChoice(v),
          csv,
          engine: v.engine as "auto" | "stream" | "athena",
          keyChecks: v.keyChecks as number,
        },
        io,
      );
    });

  withOutput(
    withAws(
      program
        .command("approve")
        .summary("let the copy jobs of a run waiting for approval start")
        .description(
          "Let the copy jobs of a run started with --require-approval, waiting in Waiting for approval, start copying (Batch Operations: from Suspended, awaiting confirmation, to Ready).",
        )
        .requiredOption("--execution <arn>", "the run waiting in Waiting for approval"),
    ),
  ).action(async (v: Flags) => {
    const { approveCommand } = await import("./commands/approve.ts");
    exit.code = await approveCommand(
      { ...awsOptions(v), execution: v.execution as string, output: outputChoice(v) },
      io,
    );
  });

  withOutput(
    withAws(
      program
        .command("stop")
        .summary("stop a run and cancel its Batch Operations jobs")
        .description(
          "Stop a run and cancel its Batch Operations jobs: tasks under way finish (each is one atomic copy), no new one starts, and stop says how many objects were re-encrypted. A new run finishes the bucket later without copying them again.",
        )
        .requiredOption("--execution <arn>", "the run to stop")
        .option("--reason <text>", "why, recorded with the stop and on each cancelled job"),
    ),
  ).action(async (v: Flags) => {
    const { stopCommand } = await import("./commands/stop.ts");
    exit.code = await stopCommand(
      {
        ...awsOptions(v),
        execution: v.execution as string,
        reason: v.reason as string | undefined,
        output: outputChoice(v),
      },
      io,
    );
  });

  const fleet = program
    .command("fleet")
    .summary("run many buckets as one fleet: start, status, stop")
    .description(
      "A fleet is one Step Functions execution that starts each bucket's run (its own execution and report), at most " +
        "--max-concurrent-runs at once. Feed it rekey scan --output json, or a list of buckets.",
    );
  withOutput(
    withAws(
      withRunOptions(fleet.command("start"))
        .summary("check every bucket, then start one fleet execution that runs them")
        .description(
          "Run rekey start's checks on every bucket (read-only), leave out those a run would refuse or that need " +
            "nothing (scan's compliant and blocked), order the rest, and start one fleet execution that starts each " +
            "bucket's run under the name chosen here, at most --max-concurrent-runs at once.",
        )
        .requiredOption("--kms-key <arn>", "full ARN of the target customer managed key")
        .option("--bucket <name>", "a bucket of the fleet; repeatable", collect, [])
        .option(
          "--buckets-file <file>",
          "rekey scan --output json's output, or one bucket per line (an inventory configuration id may follow it)",
        )
        .addOption(
          new Option(
            "--source <source>",
            "generate: every run lists its bucket with the manifest generator (default: the bucket's inventory when scan found one)",
          ).choices(["inventory", "generate"]),
        )
        .addOption(
          new Option("--order <order>", "the order runs start in")
            .choices(FLEET_ORDERS)
            .default("smallest-first" satisfies FleetOrder),
        )
        .option("--max-concurrent-runs <n>", "at most this many bucket runs at once", positiveInt, 2)
        .option("--change-id <id>", "change ticket, appended to every execution name")
        .option("--include-done", "run again buckets whose latest run succeeded (left out by default)")
        .option("--fleet-state-machine <arn>", "the fleet state machine (default: the one named rekey*-fleet)")
        .option("--dry-run", "run the checks and print what the fleet would run; start nothing"),
    ),
  ).action(async (v: Flags) => {
    const runOptions = runOptionsOf(v);
    const { fleetStartCommand } = await import("./commands/fleet.ts");
    exit.code = await fleetStartCommand(
      {
        ...awsOptions(v),
        fleetStateMachine: v.fleetStateMachine as string | undefined,
        kmsKey: v.kmsKey as string,
        buckets: v.bucket as string[],
        bucketsFile: v.bucketsFile as string | undefined,
        source: v.source as "inventory" | "generate" | undefined,
        order: v.order as FleetOrder,
        maxConcurrentRuns: v.maxConcurrentRuns as number,
        includeDone: v.includeDone === true,
        changeId: v.changeId as string | undefined,
        runOptions,
        dryRun: v.dryRun === true,
        output: outputChoice(v),
      },
      io,
    );
  });
  withOutput(
    withAws(
      fleet
        .command("status")
        .summary("every bucket's run of a fleet in one table, with totals")
        .option("--fleet <name>", "the fleet execution (its name or ARN; default: the latest fleet)")
        .option("--fleet-state-machine <arn>", "the fleet state machine (default: the one named rekey*-fleet)")
        .option("--watch", "refresh until every run of the fleet has ended")
        .option("--interval <seconds>", "seconds between refreshes with --watch", positiveInt, 30),
    ),
  ).action(async (v: Flags) => {
    const { fleetStatusCommand } = await import("./commands/fleet.ts");
    exit.code = await fleetStatusCommand(
      {
        ...awsOptions(v),
        fleetStateMachine: v.fleetStateMachine as string | undefined,
        fleet: v.fleet as string | undefined,
        watch: v.watch === true,
        interval: v.interval as number,
        output: outputChoice(v),
      },
      io,
    );
  });
  withOutput(
    withAws(
      fleet
        .command("stop")
        .summary("stop a fleet: no further run starts, and every run going is stopped")
        .option("--fleet <name>", "the fleet execution (its name or ARN; default: the latest fleet)")
        .option("--fleet-state-machine <arn>", "the fleet state machine (default: the one named rekey*-fleet)")
        .option("--reason <text>", "why, recorded with each stop and on each cancelled job"),
    ),
  ).action(async (v: Flags) => {
    const { fleetStopCommand } = await import("./commands/fleet.ts");
    exit.code = await fleetStopCommand(
      {
        ...awsOptions(v),
        fleetStateMachine: v.fleetStateMachine as string | undefined,
        fleet: v.fleet as string | undefined,
        reason: v.reason as string | undefined,
        output: outputChoice(v),
      },
      io,
    );
  });

  withOutput(
    withAws(
      program
        .command("evidence")
        .summary("write runs' evidence for auditors: a bundle and a one-page HTML summary each")
        .description(
          "Per run, a bundle in the run's folder of the work bucket (evidence/) and locally (<out>/<run name>/): the " +
            "before and after counts by encryption, the manifests' and reports' checksums, the verification, the " +
            "skipped objects with their reasons, the execution's input and approval, and index.html, a page a " +
            "reviewer reads without rekey; manifest.json and SHA256SUMS list every file's SHA-256. With several " +
            "runs (or --fleet), <out>/index.html is a fleet page linking to each. A run that failed or still runs gets its bundle too.",
        )
        .option("--execution <arn>", "a run's name or ARN; repeatable", collect, [])
        .option("--fleet <name>", "every run a fleet started (the fleet execution's name or ARN)")
        .option("--fleet-state-machine <arn>", "the fleet state machine (default: the one named rekey*-fleet)")
        .option("--out <dir>", "the local folder for the bundles", "rekey-evidence"),
    ),
  ).action(async (v: Flags) => {
    const { evidenceCommand } = await import("./commands/evidence.ts");
    exit.code = await evidenceCommand(
      {
        ...awsOptions(v),
        executions: v.execution as string[],
        fleet: v.fleet as string | undefined,
        fleetStateMachine: v.fleetStateMachine as string | undefined,
        out: v.out as string,
        output: outputChoice(v),
      },
      io,
    );
  });

  withOutput(
    withAws(
      program
        .command("runs")
        .summary("recent runs, newest first, with their outcome")
        .description(
          "Recent runs of the rekey state machine, newest first, with their outcome: counts, or why they ended.",
        )
        .option("--bucket <name>", "only this bucket's runs")
        .option("--limit <n>", "at most N runs", positiveInt, 20),
    ),
  ).action(async (v: Flags) => {
    const { runsCommand } = await import("./commands/runs.ts");
    exit.code = await runsCommand(
      { ...awsOptions(v), bucket: v.bucket as string | undefined, limit: v.limit as number, output: outputChoice(v) },
      io,
    );
  });

  program
    .command("demo")
    .summary("re-encrypt a seeded bucket end to end in a fresh sandbox")
    .option("--objects <n>", "objects in the seeded bucket", positiveInt, 10_000)
    .option("--tasks-per-second <n>", "Batch Operations tasks the sandbox runs per second", positiveInt, 2_000)
    .addOption(
      new Option("--source <source>", "plan from an inventory, or from the manifest generator (no inventory)")
        .choices(["inventory", "generate"])
        .default("inventory"),
    )
    .addOption(new Option("--engine <engine>", "filter the inventory this way").choices(FILTER_ENGINE_CHOICES))
    .option(
      "--fleet",
      "instead: scan a sandbox account of several buckets, run those that need it as one fleet, and check the roll-up",
    )
    .option("--max-concurrent-runs <n>", "with --fleet: bucket runs at once", positiveInt, 2)
    .action(async (v: Flags) => {
      if (v.fleet === true) {
        const { fleetDemoCommand } = await import("./demo-fleet.ts");
        await fleetDemoCommand({
          // The larger bucket of the fleet; the default 10,000 of one bucket would make a long fleet demo.
          objects: v.objects === 10_000 ? 400 : (v.objects as number),
          tasksPerSecond: v.tasksPerSecond as number,
          maxConcurrentRuns: v.maxConcurrentRuns as number,
        });
        return;
      }
      const engine = v.engine as FilterEngineChoice | undefined;
      if (engine !== undefined && engine !== "auto" && engine !== "stream" && v.source === "generate") {
        throw new UsageError(`--engine ${engine} filters an inventory; --source generate has none. Drop one of them.`);
      }
      const { demoCommand } = await import("./demo.ts");
      await demoCommand({
        source: v.source as "inventory" | "generate",
        ...(engine ? { engine } : {}),
        objects: v.objects as number,
        tasksPerSecond: v.tasksPerSecond as number,
      });
    });

  const sandbox = program
    .command("sandbox")
    .summary("serve the local AWS sandbox with rekey deployed into it")
    .description(
      "Serve the local AWS sandbox in the foreground, with rekey deployed into it. Its state is in memory unless " +
        "--data-dir (or REKEY_SANDBOX_DATA_DIR) names a folder to keep it in across restarts.",
    )
    .option("--port <port>", "port to listen on", port, 4599)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--data-dir <dir>", "keep the sandbox's state here")
    .option("-v, --verbose", "print every request")
    .action(async (v: Flags) => {
      const { sandboxCommand } = await import("./sandbox-command.ts");
      await sandboxCommand({
        port: v.port as number,
        host: v.host as string,
        verbose: v.verbose === true,
        dataDir: (v.dataDir as string | undefined) ?? (io.env.REKEY_SANDBOX_DATA_DIR || undefined),
      });
    });
  sandbox
    .command("seed")
    .summary("fill a bucket of a running sandbox with the demo's mix of objects")
    .requiredOption("--bucket <name>", "bucket to create and fill")
    .option("--objects <n>", "how many objects", positiveInt, 500)
    .option("--endpoint <url>", "the sandbox (default: AWS_ENDPOINT_URL)")
    .option("--env", "print BUCKET, KMS_KEY_ARN and INVENTORY_ID as shell exports")
    .action(async (v: Flags) => {
      const { sandboxSeed } = await import("./sandbox-command.ts");
      exit.code = await sandboxSeed(
        {
          endpoint: sandboxEndpoint(v.endpoint as string | undefined, io),
          bucket: v.bucket as string,
          objects: v.objects as number,
          env: v.env === true,
        },
        io,
      );
    });
  sandbox
    .command("deliver-inventory")
    .summary("make S3 deliver a bucket's inventory now")
    .requiredOption("--bucket <name>", "the bucket")
    .requiredOption("--inventory-config <id>", "its inventory configuration")
    .option("--endpoint <url>", "the sandbox (default: AWS_ENDPOINT_URL)")
    .action(async (v: Flags) => {
      const { sandboxDeliverInventory } = await import("./sandbox-command.ts");
      exit.code = await sandboxDeliverInventory(
        {
          endpoint: sandboxEndpoint(v.endpoint as string | undefined, io),
          bucket: v.bucket as string,
          configurationId: v.inventoryConfig as string,
        },
        io,
      );
    });
  return program;
}

function sandboxEndpoint(flag: string | undefined, io: Io): string {
  const endpoint = flag ?? io.env.AWS_ENDPOINT_URL;
  if (!endpoint)
    throw new UsageError("Pass --endpoint (the sandbox's URL, e.g. http://127.0.0.1:4599) or set AWS_ENDPOINT_URL.");
  return endpoint;
}
