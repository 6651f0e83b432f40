import { processIo } from "./io.ts";
import { runCli } from "./run.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// A reader that stops early (`rekey report --skipped | head`) closes the pipe: that ends the output, not in error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2), processIo);
process.exit(code);
