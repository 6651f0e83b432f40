import { parseArgs } from "node:util";
import { demoCommand } from "./demo.ts";
import { CommandFailedError, ExitCodes, UsageError } from "./errors.ts";
import { sandboxCommand } from "./sandbox-command.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const HELP = `rekey: re-encrypt every current object of an S3 bucket to SSE-KMS with S3 Bucket Keys.

Usage:
  rekey demo [--objects N]           Re-encrypt a seeded bucket end to end in the local sandbox
  rekey sandbox [--port P] [--host H] [--verbose]
                                     Serve the local AWS sandbox in the foreground
  rekey help                         Show this help

From a checkout: npm run rekey -- <command> [options]
`;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive whole number, not "${value}".`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "demo": {
      const { values } = parseArgs({
        args: rest,
        options: { objects: { type: "string" }, "tasks-per-second": { type: "string" } },
      });
      await demoCommand({
        objects: positiveInt(values.objects, "objects", 10_000),
        tasksPerSecond: positiveInt(values["tasks-per-second"], "tasks-per-second", 2_000),
      });
      return ExitCodes.ok;
    }
    case "sandbox": {
      const { values } = parseArgs({
        args: rest,
        options: { port: { type: "string" }, host: { type: "string" }, verbose: { type: "boolean", short: "v" } },
      });
      const port = values.port === undefined ? 4599 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be 0 to 65535, not "${values.port}".`);
      await sandboxCommand({ port, host: values.host ?? "127.0.0.1", verbose: values.verbose ?? false });
      return ExitCodes.ok;
    }
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return ExitCodes.ok;
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
      process.stderr.write(`rekey: ${(err as Error).message}\n`);
      process.exit(ExitCodes.usage);
    }
    if (err instanceof CommandFailedError) {
      process.stderr.write(`rekey: ${err.message}\n`);
      process.exit(ExitCodes.failed);
    }
    process.stderr.write(
      `rekey: internal error (please report it with what you ran):\n${(err as Error)?.stack ?? String(err)}\n`,
    );
    process.exit(ExitCodes.internal);
  },
);
