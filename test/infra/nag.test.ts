/**
 * cdk-nag's AwsSolutions pack runs at every synth (infra/rekey-app.ts). The stack passes it only because each
 * remaining finding is acknowledged with a reason; leaving out any one acknowledgement fails the synth with it.
 */
import { describe, expect, it } from "vitest";
import { buildStack } from "./helpers.ts";

const { stack } = buildStack();
const acknowledgements = stack.nagAcknowledgements;

describe("cdk-nag (AwsSolutions)", () => {
  it("passes the stack as configured (a name and a prefix pattern), every acknowledgement with a reason", () => {
    expect(() => buildStack().synth()).not.toThrow();
    for (const ack of acknowledgements) expect(ack.reason.length, ack.id).toBeGreaterThan(40);
  });

  it("passes a stack allowing bucket names only", () => {
    expect(() => buildStack({ config: { buckets: ["example-data-bucket"] } }).synth()).not.toThrow();
  });

  it.each(acknowledgements.map((a) => [a.id]))("fails without the acknowledgement %s", (id) => {
    expect(() => buildStack({ omit: [id] }).synth()).toThrow(id);
  });
});
