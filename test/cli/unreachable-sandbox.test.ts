import net from "node:net";
import { describe, expect, it } from "vitest";
import type { Io } from "../../cli/io.ts";
import { runCli } from "../../cli/run.ts";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";

/** A loopback port nothing listens on: one the OS just gave out and took back. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("rekey against an endpoint where no sandbox runs", () => {
  it("says the connection was refused and how to start the sandbox, not that credentials are wrong", async () => {
    const port = await deadPort();
    let out = "";
    let err = "";
    const io: Io = {
      out: { write: (t: string) => (out += t) },
      err: { write: (t: string) => (err += t) },
      env: {
        AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey,
      },
      sleep: async () => undefined,
      now: () => new Date(),
    };
    const code = await runCli(["status", "--bucket", "any-bucket"], io);
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toContain(`connection refused to 127.0.0.1:${port}`);
    expect(err).toContain("Is the sandbox running? Start it with `rekey sandbox`");
    expect(err).not.toMatch(/credentials/i);
  });
});
