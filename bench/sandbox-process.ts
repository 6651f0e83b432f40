/**
 * A sandbox in a process of its own, for benchmarks that measure it apart from the code under test: started with
 * `fork` (IPC), it sends `{ endpoint, identity }` once listening and closes on SIGTERM or when its parent goes.
 */
import { startSandbox } from "../sandbox/server.ts";

const sandbox = await startSandbox({ port: 0 });
process.send?.({ endpoint: sandbox.endpoint, identity: sandbox.identity });
const stop = async () => {
  await sandbox.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("disconnect", stop);
