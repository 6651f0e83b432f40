import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rekeyWithEnv } from "../support/cli.ts";

/** `rekey sandbox` on a port another program holds: a setup problem the operator fixes, not an internal error. */
describe("rekey sandbox on a busy port", () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  it("says the port is in use and to pass another, with exit code 2", async () => {
    const { code, err } = await rekeyWithEnv({}, "sandbox", "--port", String(port));
    expect(code).toBe(2);
    expect(err).toBe(
      `rekey: 127.0.0.1:${port} is in use: another sandbox (or program) listens there. Stop it, or pass another --port.\n`,
    );
  });
});
