import { CommanderError } from "commander";
import { ErrorNames, isRekeyError } from "../contract/errors.ts";
import { CommandFailedError, ExitCodes, UsageError, unreachableEndpoint } from "./errors.ts";
import type { Io } from "./io.ts";
import { outputChoiceOf, printError } from "./output.ts";
import { buildProgram } from "./program.ts";

/** Runs one CLI invocation and returns its exit code; expected problems become messages, not stack traces. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const exit = { code: ExitCodes.ok as number };
  const choice = outputChoiceOf(argv);
  const json = choice.format === "json" || choice.query !== undefined;
  const program = buildProgram(io, exit, { quietErrors: json });
  try {
    const [first] = argv;
    // An unknown command is an error even with --help after it, which commander would answer with the general help.
    const unknownCommand =
      first !== undefined &&
      first !== "help" &&
      !first.startsWith("-") &&
      !program.commands.some((c) => c.name() === first);
    await program.parseAsync(unknownCommand ? [first] : argv.length ? argv : ["help"], { from: "user" });
    return exit.code;
  } catch (err) {
    const [name, message, code] = classify(err);
    // Commander printed its own errors already, unless JSON output silenced them.
    if (!(err instanceof CommanderError) || json) {
      if (message !== "") printError(io, choice, { name, message }, code);
    }
    return code;
  }
}

const REFUSALS = new Set<string>([
  ErrorNames.InvalidInput,
  ErrorNames.InventoryConfiguration,
  ErrorNames.PreflightBlocked,
]);

/** An error's stable name, the message for the operator (empty: already printed), and the exit code. */
function classify(err: unknown): [string, string, number] {
  if (err instanceof CommanderError) {
    // Help and --version end parsing with a CommanderError too; they succeeded.
    if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code))
      return [err.code, "", ExitCodes.ok];
    return ["UsageError", err.message.replace(/^error: /, ""), ExitCodes.usage];
  }
  if (err instanceof UsageError) return [err.name, err.message, ExitCodes.usage];
  if (isRekeyError(err) && REFUSALS.has(err.name)) {
    // What `rekey start` checks before it starts: the request, or the bucket and key, need the operator first.
    return [err.name, `${err.name}: ${err.problem}\nFix: ${err.fix}`, ExitCodes.usage];
  }
  if (err instanceof CommandFailedError) return [err.name, err.message, ExitCodes.failed];
  if ((err as { code?: string })?.code === "EADDRINUSE") {
    const e = err as { address?: string; port?: number };
    return [
      "AddressInUse",
      `${e.address ?? "the address"}:${e.port ?? "?"} is in use: another sandbox (or program) listens there. Stop it, or pass another --port.`,
      ExitCodes.usage,
    ];
  }
  const unreachable = unreachableEndpoint(err);
  if (unreachable) return ["EndpointUnreachable", unreachable, ExitCodes.failed];
  const e = err as { name?: string; message?: string; $metadata?: unknown; stack?: string };
  if (e?.name === "CredentialsProviderError") {
    // The SDK's provider chain found no credentials (or the profile's cannot be used): the operator's setup.
    return [
      e.name,
      `no AWS credentials could be loaded: ${e.message}\nSet AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with --profile / AWS_PROFILE (aws configure, or aws sso login for an SSO profile).`,
      ExitCodes.usage,
    ];
  }
  if (e?.name === "ExecutionDoesNotExist" || e?.name === "InvalidArn") {
    // A run named that does not exist is bad input, like a bucket with no run (exit 2 for both).
    return [
      e.name,
      `no such run: ${e.message}\nCheck the execution ARN (rekey runs lists the runs, rekey status --bucket B finds a bucket's latest).`,
      ExitCodes.usage,
    ];
  }
  if (e?.$metadata) {
    // An AWS error the command did not expect: name it and say where it came from, without a stack trace.
    return [
      e.name ?? "AwsError",
      `AWS answered ${e.name}: ${e.message}\nCheck the region, credentials and permissions, then try again.`,
      ExitCodes.failed,
    ];
  }
  return [
    "InternalError",
    `internal error (please report it with what you ran):\n${e?.stack ?? String(err)}`,
    ExitCodes.internal,
  ];
}
