import net from "node:net";
import { describe, expect, it } from "vitest";
import { rekeyAt } from "../support/cli.ts";

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
    const { code, out, err } = await rekeyAt(
      { endpoint: `http://127.0.0.1:${port}`, region: "us-east-1" },
      "status",
      "--bucket",
      "any-bucket",
    );
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toContain(`connection refused to 127.0.0.1:${port}`);
    expect(err).toContain("Is the sandbox running? Start it with `rekey sandbox`");
    expect(err).not.toMatch(/credentials/i);
  });
});
