import { processIo } from "./io.ts";
import { runCli } from "./run.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const code = await runCli(process.argv.slice(2), processIo);
process.exit(code);
