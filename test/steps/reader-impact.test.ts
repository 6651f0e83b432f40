import {
  CreateRoleCommand,
  CreateUserCommand,
  type IAMClient,
  IAMServiceException,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { CreateBucketCommand, PutBucketPolicyCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PreflightBlockedError } from "../../contract/errors.ts";
import { type SandboxClients, sandboxClients } from "../../sandbox/sdk-clients.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { gatherPreflightFacts, type PreflightRun } from "../../steps/aws/preflight-reads.ts";
import { ReaderImpactCache, readReaderImpact } from "../../steps/aws/reader-impact.ts";
import { evaluatePreflight } from "../../steps/domain/preflight.ts";
import { isCannotTell } from "../../steps/domain/preflight-facts.ts";
import { identityStatement } from "../../steps/domain/reader-impact.ts";
import { runPreflight } from "../../steps/handlers/preflight-checks.ts";
import { silentLogger } from "../../steps/runtime/log.ts";
import { sandboxWithClients } from "../support/sandbox.ts";

const TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const PARTNER = "arn:aws:iam::444455556666:role/partner-etl";
const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

/** Reader impact in preflight, against the sandbox's IAM with the real SDK: who reads a bucket, who could decrypt. */
describe("reader impact against the sandbox", () => {
  let sandbox: Sandbox;
  let clients: SandboxClients;
  let keyArn: string;
  /** The IAM calls the sandbox served while counting, as "Action ActionNames.member.1". */
  const iamCalls: string[] = [];

  const arn = (kind: "role" | "user", name: string, path = "/") =>
    `arn:aws:iam::${sandbox.identity.accountId}:${kind}${path}${name}`;
  const batchRoleArn = () => arn("role", "rekey-batch");
  const run = (bucket: string): PreflightRun => ({
    bucket,
    kmsKeyArn: keyArn,
    region: sandbox.identity.region,
    accountId: sandbox.identity.accountId,
  });
  const deps = () => ({ clients, config: { batchRoleArn: batchRoleArn() }, log: silentLogger });

  async function role(name: string, inline: Record<string, string> = {}, path = "/"): Promise<string> {
    await clients.iam.send(new CreateRoleCommand({ RoleName: name, Path: path, AssumeRolePolicyDocument: TRUST }));
    for (const [PolicyName, PolicyDocument] of Object.entries(inline)) {
      await clients.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName, PolicyDocument }));
    }
    return arn("role", name, path);
  }

  async function versionedBucket(Bucket: string, bucketPolicy?: object[]): Promise<void> {
    await clients.s3.send(new CreateBucketCommand({ Bucket }));
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } }));
    if (bucketPolicy) await clients.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy(...bucketPolicy) }));
  }

  const reads = (bucket: string) => ({ Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` });
  const decrypts = () => ({
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: keyArn,
    Condition: { StringEquals: { "kms:ViaService": `s3.${sandbox.identity.region}.amazonaws.com` } },
  });
  const bucketPolicyReaders = (bucket: string, ...principals: string[]) => ({
    Sid: "NamedReaders",
    Effect: "Allow",
    Principal: { AWS: principals },
    Action: "s3:GetObject",
    Resource: `arn:aws:s3:::${bucket}/*`,
  });

  beforeAll(async () => {
    ({ sandbox, clients } = await sandboxWithClients({
      onRequest: (req) => {
        if (!req.headers.authorization?.toString().includes("/iam/aws4_request")) return;
        const form = new URLSearchParams(req.body.toString("utf8"));
        iamCalls.push(`${form.get("Action")} ${form.get("ActionNames.member.1") ?? ""}`.trim());
      },
    }));
    keyArn = (await clients.kms.send(new CreateKeyCommand({ Description: "target" }))).KeyMetadata?.Arn ?? "";

    await versionedBucket("reports", [
      bucketPolicyReaders("reports", arn("role", "bucket-policy-reader"), arn("user", "bucket-policy-user"), PARTNER),
    ]);
    await role("reads-no-decrypt", { read: policy(reads("reports")) });
    await role("reads-and-decrypts", { read: policy(reads("reports"), decrypts()) });
    await role("bucket-policy-reader");
    await clients.iam.send(new CreateUserCommand({ UserName: "bucket-policy-user" }));
    await role("unrelated", { logs: policy({ Effect: "Allow", Action: "logs:*", Resource: "*" }) });
    // A service-linked role that could read: skipped, its policies are the service's.
    await role(
      "AWSServiceRoleForReports",
      { read: policy(reads("reports")) },
      "/aws-service-role/reports.amazonaws.com/",
    );
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("blocks on the readers that could not decrypt, each with its fix, and leaves out those that can", async () => {
    const err = await runPreflight(run("reports"), deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightBlockedError);
    const blocked = err as PreflightBlockedError;
    expect(blocked.blockers.map((b) => b.code)).toEqual(["readers-lack-decrypt"]);
    const [finding] = blocked.blockers;
    expect(finding?.message).toContain("3 IAM principal(s)");
    expect(finding?.message).toContain(
      `${arn("role", "reads-no-decrypt")} (reads: allowed by read; its IAM policies do not allow kms:Decrypt on the key)`,
    );
    // Readers only through the bucket policy: a role (judged by rekey) and a user (by the simulator's ResourcePolicy).
    expect(finding?.message).toContain(`${arn("role", "bucket-policy-reader")} (reads: named in the bucket policy;`);
    expect(finding?.message).toContain(`${arn("user", "bucket-policy-user")} (reads: allowed by ResourcePolicy;`);
    for (const absent of ["reads-and-decrypts", "unrelated", "AWSServiceRoleForReports"]) {
      expect(finding?.message).not.toContain(absent);
    }
    expect(finding?.fix).toContain(JSON.stringify(identityStatement(keyArn, sandbox.identity.region)));
    expect(blocked.message).toContain("rekey start --acknowledge readers-lack-decrypt");
  });

  it("reports the other account's principal the bucket policy names as unknown, and an acknowledgement lets the run on", async () => {
    const result = await runPreflight(run("reports"), deps(), { acknowledge: ["readers-lack-decrypt"] });
    expect(result.acknowledged).toEqual(["readers-lack-decrypt"]);
    expect(result.warnings.find((w) => w.code === "readers-lack-decrypt")).toMatchObject({ acknowledged: true });
    const unknown = result.warnings.find((w) => w.code === "readers-unknown");
    expect(unknown?.message).toContain(`${PARTNER}: another account's principal`);
    expect(unknown?.message).toContain('"NamedReaders"');
  });

  it("records who was examined and who skipped", async () => {
    const facts = await gatherPreflightFacts(run("reports"), clients, batchRoleArn());
    const readers = facts.readers;
    if (readers === undefined || isCannotTell(readers)) throw new Error(`readers not read: ${JSON.stringify(readers)}`);
    expect(readers.skipped).toEqual([
      {
        arn: arn("role", "AWSServiceRoleForReports", "/aws-service-role/reports.amazonaws.com/"),
        why: "service-linked role",
      },
    ]);
    const byName = Object.fromEntries(readers.principals.map((p) => [p.arn.split("/").pop(), p]));
    expect(byName["reads-and-decrypts"]).toMatchObject({
      read: { decision: "allowed" },
      decrypt: { decision: "allowed" },
    });
    expect(byName.unrelated).toEqual({
      arn: arn("role", "unrelated"),
      kind: "role",
      read: { decision: "implicitDeny", policies: [] },
    });
  });

  it("asks IAM once per principal for kms:Decrypt across the buckets of a scan, with one cache", async () => {
    await versionedBucket("reports-copy");
    await role("reads-both-buckets", { read: policy(reads("reports"), reads("reports-copy")) });
    const cache = new ReaderImpactCache();
    const target = (bucket: string) => ({
      bucket,
      bucketAccountId: sandbox.identity.accountId,
      region: sandbox.identity.region,
      targetKeyArn: keyArn,
      batchRoleArn: batchRoleArn(),
      bucketPolicy: null,
    });
    iamCalls.length = 0;
    await readReaderImpact(clients.iam, target("reports"), cache);
    const first = [...iamCalls];
    await readReaderImpact(clients.iam, target("reports-copy"), cache);
    const second = iamCalls.slice(first.length);
    expect(first.filter((c) => c === "ListRoles")).toHaveLength(1);
    expect(first.filter((c) => c === "SimulatePrincipalPolicy kms:Decrypt").length).toBeGreaterThan(0);
    // The second bucket: one s3:GetObject simulation per principal, no listing, no kms:Decrypt asked again.
    expect(second.filter((c) => c.startsWith("List"))).toEqual([]);
    expect(second.filter((c) => c === "SimulatePrincipalPolicy kms:Decrypt")).toEqual([]);
    expect(second.filter((c) => c === "SimulatePrincipalPolicy s3:GetObject").length).toBeGreaterThan(0);
  });

  it("asks again per bucket when a principal's kms:Decrypt grant names the bucket in its encryption context", async () => {
    const byContext = await role("decrypts-one-bucket", {
      read: policy(reads("reports"), reads("reports-copy"), {
        ...decrypts(),
        Condition: { StringEquals: { "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::reports" } },
      }),
    });
    const cache = new ReaderImpactCache();
    const decryptOf = async (bucket: string) => {
      const facts = await readReaderImpact(
        clients.iam,
        {
          bucket,
          bucketAccountId: sandbox.identity.accountId,
          region: sandbox.identity.region,
          targetKeyArn: keyArn,
          batchRoleArn: batchRoleArn(),
          bucketPolicy: null,
        },
        cache,
      );
      if (isCannotTell(facts)) throw new Error(facts.cannotTell);
      return facts.principals.find((p) => p.arn === byContext)?.decrypt?.decision;
    };
    expect(await decryptOf("reports")).toBe("allowed");
    expect(await decryptOf("reports-copy")).toBe("implicitDeny");
  });

  it("judges a user's bucket-policy grant itself when IAM will not simulate the bucket policy", async () => {
    // A statement without a Principal: S3 would refuse it, IAM's simulator does (MalformedPolicyDocument).
    const unsimulatable = policy(bucketPolicyReaders("reports", arn("user", "bucket-policy-user")), {
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: "arn:aws:s3:::reports",
    });
    const facts = await readReaderImpact(clients.iam, {
      bucket: "reports",
      bucketAccountId: sandbox.identity.accountId,
      region: sandbox.identity.region,
      targetKeyArn: keyArn,
      batchRoleArn: batchRoleArn(),
      bucketPolicy: unsimulatable,
    });
    if (isCannotTell(facts)) throw new Error(facts.cannotTell);
    // Simulated without the bucket policy, read by rekey: a reader, so asked for kms:Decrypt.
    expect(facts.principals.find((p) => p.arn === arn("user", "bucket-policy-user"))).toMatchObject({
      read: { decision: "implicitDeny" },
      decrypt: { decision: "implicitDeny" },
    });
  });

  it("cannot tell, and says why, when the caller may not list the account's roles", async () => {
    const denied = denyingIam("ListRolesCommand");
    const facts = await gatherPreflightFacts(run("reports"), { ...clients, iam: denied }, batchRoleArn());
    expect(facts.readers).toEqual({ cannotTell: "IAM ListRoles: access denied" });
    const { blockers, warnings } = evaluatePreflight(facts);
    expect(blockers).toEqual([]);
    expect(warnings.find((w) => w.code === "readers-unknown")?.message).toContain("IAM ListRoles: access denied");
  });

  it("cannot tell when the caller may not simulate, rather than failing the preflight", async () => {
    const denied = denyingIam("SimulatePrincipalPolicyCommand");
    const facts = await gatherPreflightFacts(run("reports"), { ...clients, iam: denied }, batchRoleArn());
    expect(facts.readers).toEqual({ cannotTell: "IAM SimulatePrincipalPolicy: access denied" });
  });

  /**
   * An IAM client on the same sandbox whose `command` answers AccessDenied, as IAM does for a caller without the
   * permission (the query protocol's `AccessDenied`, 403); the sandbox's fault rules do not cover IAM.
   */
  function denyingIam(command: string): IAMClient {
    const client = sandboxClients({ endpoint: sandbox.endpoint, region: sandbox.identity.region }).iam;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === command) {
          throw new IAMServiceException({
            name: "AccessDenied",
            $fault: "client",
            $metadata: { httpStatusCode: 403 },
            message: `User: arn:aws:iam::${sandbox.identity.accountId}:user/operator is not authorized to perform this action`,
          });
        }
        return next(args);
      },
      { step: "initialize" },
    );
    return client;
  }
});
