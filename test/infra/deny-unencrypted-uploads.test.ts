/**
 * The bucket-policy statements a bucket's owner adds once its run is done (infra/deny-unencrypted-uploads.ts),
 * evaluated with rekey's own IAM evaluator against the writes S3 can receive, and as the runbook gives them.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type RequestContext, roleIdentity, statementApplies } from "../../iam-policy/evaluator.ts";
import { denyUnencryptedUploadsStatements } from "../../infra/deny-unencrypted-uploads.ts";
import { iamMatch, OTHER_KEY_ARN, SAMPLE_KEY_ARN } from "./helpers.ts";

const BUCKET = "example-data-bucket";
const statements = denyUnencryptedUploadsStatements(BUCKET, SAMPLE_KEY_ARN);

const SSE = "s3:x-amz-server-side-encryption";
const KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id";
const SSEC = "s3:x-amz-server-side-encryption-customer-algorithm";

/** The Sids of the statements that deny `action` on an object of the bucket with these headers (absent: null). */
function deniedBy(headers: { sse?: string; key?: string; ssec?: string }, action = "s3:PutObject"): string[] {
  const ctx: RequestContext = new Map([
    [SSE, headers.sse ?? null],
    [KEY, headers.key ?? null],
    [SSEC, headers.ssec ?? null],
  ]);
  return statements
    .filter((st) => {
      const { result } = statementApplies(st, {
        action,
        role: roleIdentity("arn:aws:iam::123456789012:role/writer"),
        ctx,
        resourceCovered: (pattern) => iamMatch(pattern, `arn:aws:s3:::${BUCKET}/data/part-0001.csv`),
      });
      expect(result, st.Sid).not.toBeUndefined();
      return result === true;
    })
    .map((st) => st.Sid);
}

describe("the deny-unencrypted-uploads statements", () => {
  it("let through a write that asks for no encryption (default encryption applies) or for the target key", () => {
    expect(deniedBy({})).toEqual([]);
    expect(deniedBy({ sse: "aws:kms", key: SAMPLE_KEY_ARN })).toEqual([]);
  });

  it.each([
    ["SSE-S3", { sse: "AES256" }, ["RekeyDenyOtherEncryption"]],
    ["DSSE-KMS under the target key", { sse: "aws:kms:dsse", key: SAMPLE_KEY_ARN }, ["RekeyDenyOtherEncryption"]],
    ["another key", { sse: "aws:kms", key: OTHER_KEY_ARN }, ["RekeyDenyOtherKeys"]],
    ["aws:kms with no key (the AWS managed key aws/s3)", { sse: "aws:kms" }, ["RekeyDenyAwsManagedKey"]],
    ["SSE-C", { ssec: "AES256" }, ["RekeyDenyCustomerKeys"]],
  ])("refuse a write that asks for %s", (_, headers, sids) => {
    expect(deniedBy(headers)).toEqual(sids);
  });

  it("concern writes to the bucket's objects only", () => {
    expect(deniedBy({ sse: "AES256" }, "s3:GetObject")).toEqual([]);
    expect(statements.map((s) => s.Resource)).toEqual(statements.map(() => `arn:aws:s3:::${BUCKET}/*`));
    expect(new Set(statements.map((s) => s.Effect))).toEqual(new Set(["Deny"]));
  });

  it("are the ones runbooks/deploy.md gives, for any bucket and key", () => {
    const runbook = readFileSync(new URL("../../runbooks/deploy.md", import.meta.url), "utf8");
    const body = /cat > rekey-deny-statements\.json <<EOF\n([\s\S]*?)\nEOF\n/.exec(runbook)?.[1];
    expect(body).toBeDefined();
    const values: Record<string, string> = { BUCKET: "sales-data", KEY_ARN: OTHER_KEY_ARN };
    const text = (body as string).replace(/\$\{?(\w+)\}?/g, (_, v: string) => {
      expect(values, `$${v}`).toHaveProperty(v);
      return values[v] as string;
    });
    expect(JSON.parse(text)).toEqual(denyUnencryptedUploadsStatements("sales-data", OTHER_KEY_ARN));
  });
});
