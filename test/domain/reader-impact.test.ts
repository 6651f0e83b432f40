import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluatePreflight } from "../../steps/domain/preflight.ts";
import {
  type CustomKeyStoreFacts,
  cannotTell,
  type PreflightFacts,
  type ReaderPrincipalFacts,
  type SimulatedAnswer,
  summarizeFacts,
} from "../../steps/domain/preflight-facts.ts";
import {
  bucketPolicyOutsiders,
  bucketView,
  decryptContextEntries,
  dependsOnEncryptionContext,
  identityStatement,
  judgeReaders,
  principalsToExamine,
  REKEY_STEP_ROLE_DESCRIPTION,
  readVerdict,
} from "../../steps/domain/reader-impact.ts";
import { ACCOUNT, BUCKET, healthy, KEY, policy, REGION, ROLE, ROOT_KEY_STATEMENT } from "./preflight-fixtures.ts";

const OBJECTS = `arn:aws:s3:::${BUCKET}/*`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const answer = (decision: SimulatedAnswer["decision"], ...policies: string[]): SimulatedAnswer => ({
  decision,
  policies,
});
const reader = (
  arn: string,
  read: SimulatedAnswer,
  decrypt: SimulatedAnswer | undefined = answer("implicitDeny"),
): ReaderPrincipalFacts => ({
  arn,
  kind: arn.includes(":user/") ? "user" : "role",
  read,
  ...(decrypt ? { decrypt } : {}),
});

function facts(principals: ReaderPrincipalFacts[], changes: Partial<PreflightFacts> = {}): PreflightFacts {
  return { ...healthy(), bucketPolicy: null, readers: { principals, skipped: [] }, ...changes };
}

describe("which principals are examined", () => {
  it("skips service-linked roles, the Batch Operations role and rekey's step roles, and no one else", () => {
    const { examine, skipped } = principalsToExamine(
      [
        { arn: role("AWSServiceRoleForSupport"), kind: "role", path: "/aws-service-role/support.amazonaws.com/" },
        { arn: ROLE, kind: "role", path: "/" },
        {
          arn: role("Rekey-PreflightChecksRole-1"),
          kind: "role",
          path: "/",
          description: "rekey step preflightHandler: only the calls this step makes",
        },
        { arn: role("rekey-lookalike"), kind: "role", path: "/", description: "reads reports" },
        { arn: user("analyst"), kind: "user", path: "/" },
      ],
      ROLE,
    );
    expect(examine.map((p) => p.arn)).toEqual([role("rekey-lookalike"), user("analyst")]);
    expect(skipped.map((s) => s.why)).toEqual([
      "service-linked role",
      "rekey's Batch Operations role (judged by key-policy-denies-batch-role)",
      "rekey's step role (HeadObject only, which needs no kms:Decrypt)",
    ]);
  });

  it("recognises the description the stack gives its step roles", () => {
    const source = readFileSync(new URL("../../infra/constructs/step-function.ts", import.meta.url), "utf8");
    expect(source).toContain(`description: \`${REKEY_STEP_ROLE_DESCRIPTION}\${props.handler}`);
  });
});

describe("the simulation's context", () => {
  it("asks kms:Decrypt as S3 does for a reader: through S3, the reader's account, and the bucket's ARN when given", () => {
    expect(decryptContextEntries({ region: REGION, callerAccount: ACCOUNT })).toEqual([
      { name: "kms:ViaService", values: [`s3.${REGION}.amazonaws.com`], type: "string" },
      { name: "kms:CallerAccount", values: [ACCOUNT], type: "string" },
    ]);
    expect(
      decryptContextEntries({ region: REGION, callerAccount: ACCOUNT, bucketArn: `arn:aws:s3:::${BUCKET}` }).slice(2),
    ).toEqual([
      { name: "kms:EncryptionContext:aws:s3:arn", values: [`arn:aws:s3:::${BUCKET}`], type: "string" },
      { name: "kms:EncryptionContextKeys", values: ["aws:s3:arn"], type: "stringList" },
    ]);
    expect(dependsOnEncryptionContext(["aws:SourceVpce"])).toBe(false);
    expect(dependsOnEncryptionContext(["kms:EncryptionContext:aws:s3:arn"])).toBe(true);
  });
});

describe("who reads the bucket", () => {
  const view = (bucketPolicy: string | null) =>
    bucketView({ bucket: BUCKET, bucketAccountId: ACCOUNT, targetKeyArn: KEY, bucketPolicy });
  const grant = (principal: unknown, extra: object = {}) =>
    policy({
      Sid: "Readers",
      Effect: "Allow",
      Principal: principal,
      Action: "s3:GetObject",
      Resource: OBJECTS,
      ...extra,
    });
  const app = { arn: role("app"), kind: "role" as const };

  it("a principal its IAM policies let read, unless a bucket policy Deny or an IAM Deny applies", () => {
    expect(readVerdict(app, answer("allowed", "read"), view(null))).toEqual({ reads: true, how: "allowed by read" });
    expect(readVerdict(app, answer("explicitDeny", "guard"), view(null))).toEqual({ reads: false });
    const deny = policy({ Effect: "Deny", Principal: { AWS: app.arn }, Action: "s3:*", Resource: OBJECTS });
    expect(readVerdict(app, answer("allowed", "read"), view(deny))).toEqual({ reads: false });
  });

  it("a role the bucket policy names itself reads; one under the account root does not (that delegates to IAM)", () => {
    expect(readVerdict(app, answer("implicitDeny"), view(grant({ AWS: app.arn })))).toEqual({
      reads: true,
      how: "named in the bucket policy",
    });
    expect(readVerdict(app, answer("implicitDeny"), view(grant({ AWS: `arn:aws:iam::${ACCOUNT}:root` })))).toEqual({
      reads: false,
    });
    expect(readVerdict(app, answer("implicitDeny"), view(grant({ AWS: role("other") })))).toEqual({ reads: false });
  });

  it("cannot tell when the statement naming it depends on a condition rekey cannot evaluate", () => {
    const verdict = readVerdict(
      app,
      answer("implicitDeny"),
      view(grant({ AWS: app.arn }, { Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } })),
    );
    expect(verdict).toMatchObject({ reads: "unclear", why: expect.stringContaining("aws:SourceIp") });
  });

  it("reports other accounts' principals, anyone and services as readers it cannot simulate", () => {
    const outsiders = bucketPolicyOutsiders(
      view(
        policy(
          {
            Sid: "Partner",
            Effect: "Allow",
            Principal: { AWS: "arn:aws:iam::444455556666:role/etl" },
            Action: "s3:GetObject",
            Resource: OBJECTS,
          },
          {
            Sid: "Cdn",
            Effect: "Allow",
            Principal: { Service: "cloudfront.amazonaws.com" },
            Action: "s3:GetObject",
            Resource: OBJECTS,
          },
          {
            Sid: "Org",
            Effect: "Allow",
            Principal: "*",
            Action: "s3:Get*",
            Resource: OBJECTS,
            Condition: { StringEquals: { "aws:PrincipalOrgID": "o-1" } },
          },
          {
            Sid: "Own",
            Effect: "Allow",
            Principal: { AWS: [app.arn, ACCOUNT] },
            Action: "s3:GetObject",
            Resource: OBJECTS,
          },
          {
            Sid: "ListOnly",
            Effect: "Allow",
            Principal: { AWS: "999988887777" },
            Action: "s3:ListBucket",
            Resource: `arn:aws:s3:::${BUCKET}`,
          },
        ),
      ),
    );
    expect(outsiders.map((o) => o.principal)).toEqual([
      "arn:aws:iam::444455556666:role/etl",
      "cloudfront.amazonaws.com",
      "*",
    ]);
    expect(outsiders[0]?.why).toContain('"Partner"');
    expect(outsiders[2]?.why).toContain("aws:PrincipalOrgID");
  });
});

describe("who would lose access", () => {
  const readsViaIam = answer("allowed", "read");

  it("a reader whose IAM policies lack kms:Decrypt, under a key policy that delegates to IAM: the IAM statement", () => {
    const impact = judgeReaders(facts([reader(role("app"), readsViaIam)]));
    expect(impact?.losing).toEqual([
      {
        arn: role("app"),
        kind: "role",
        how: "allowed by read",
        why: "its IAM policies do not allow kms:Decrypt on the key",
        fix: { identityPolicy: identityStatement(KEY, REGION) },
      },
    ]);
    expect(identityStatement(KEY, REGION)).toEqual({
      Sid: "DecryptObjectsReadThroughS3",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: KEY,
      Condition: { StringEquals: { "kms:ViaService": `s3.${REGION}.amazonaws.com` } },
    });
  });

  it("keeps a reader its IAM policies let decrypt, and one the key policy names itself", () => {
    expect(judgeReaders(facts([reader(role("app"), readsViaIam, answer("allowed", "kms"))]))?.losing).toEqual([]);
    const named = policy(ROOT_KEY_STATEMENT, {
      Effect: "Allow",
      Principal: { AWS: role("app") },
      Action: "kms:Decrypt",
      Resource: "*",
    });
    expect(judgeReaders(facts([reader(role("app"), readsViaIam)], { keyPolicy: named }))?.losing).toEqual([]);
  });

  it("keeps every reader of the account under the console's 'through S3, this account' key statement", () => {
    const viaS3 = policy({
      Effect: "Allow",
      Principal: { AWS: "*" },
      Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
      Resource: "*",
      Condition: { StringEquals: { "kms:CallerAccount": ACCOUNT, "kms:ViaService": `s3.${REGION}.amazonaws.com` } },
    });
    expect(judgeReaders(facts([reader(user("analyst"), readsViaIam)], { keyPolicy: viaS3 }))?.losing).toEqual([]);
    const otherRegion = viaS3.replace(`s3.${REGION}.`, "s3.us-east-2.");
    expect(
      judgeReaders(facts([reader(user("analyst"), readsViaIam)], { keyPolicy: otherRegion }))?.losing.map((r) => r.fix),
    ).toEqual([{ keyPolicy: expect.objectContaining({ Principal: { AWS: user("analyst") } }) }]);
  });

  it("a key policy that does not delegate to IAM needs the key-policy statement naming the reader, not an IAM one", () => {
    const admins = policy({ Effect: "Allow", Principal: { AWS: role("admin") }, Action: "kms:*", Resource: "*" });
    const [lost] =
      judgeReaders(facts([reader(role("app"), readsViaIam, answer("allowed", "kms"))], { keyPolicy: admins }))
        ?.losing ?? [];
    expect(lost?.why).toBe("the key policy neither names it nor lets IAM policies grant the key");
    expect(lost?.fix).toEqual({
      keyPolicy: {
        Sid: "AllowReadersToDecryptThroughS3",
        Effect: "Allow",
        Principal: { AWS: role("app") },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `s3.${REGION}.amazonaws.com`, "kms:CallerAccount": ACCOUNT } },
      },
    });
  });

  it("a Deny in the key policy or in IAM: the Deny to change", () => {
    const denying = policy(ROOT_KEY_STATEMENT, {
      Sid: "NoApp",
      Effect: "Deny",
      Principal: { AWS: role("app") },
      Action: "kms:Decrypt",
      Resource: "*",
    });
    expect(
      judgeReaders(facts([reader(role("app"), readsViaIam, answer("allowed", "kms"))], { keyPolicy: denying }))
        ?.losing[0]?.fix,
    ).toEqual({ removeDeny: 'key policy statement "NoApp"' });
    expect(
      judgeReaders(facts([reader(role("app"), readsViaIam, answer("explicitDeny", "guard"))]))?.losing[0],
    ).toMatchObject({
      why: "denied kms:Decrypt by guard",
      fix: { removeDeny: "the Deny on kms:Decrypt in guard" },
    });
  });

  it("a key of another account: the key policy's grant and the reader's own IAM policy are both needed", () => {
    const foreignKey = KEY.replace(ACCOUNT, "777788889999");
    const namesApp = policy({ Effect: "Allow", Principal: { AWS: role("app") }, Action: "kms:Decrypt", Resource: "*" });
    const impact = judgeReaders(
      facts([reader(role("app"), readsViaIam)], { targetKeyArn: foreignKey, keyPolicy: namesApp }),
    );
    expect(impact?.losing[0]?.fix).toEqual({ identityPolicy: identityStatement(foreignKey, REGION) });
  });

  it("cannot tell when the key policy's grant depends on an unevaluated condition, or the key policy is unreadable", () => {
    const conditioned = policy({
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
      Condition: { StringEquals: { "aws:PrincipalOrgID": "o-1" } },
    });
    const unclear = judgeReaders(facts([reader(role("app"), readsViaIam)], { keyPolicy: conditioned }));
    expect(unclear?.losing).toEqual([]);
    expect(unclear?.unknown[0]).toMatchObject({
      principal: role("app"),
      why: expect.stringContaining("aws:PrincipalOrgID"),
    });
    const unreadable = { keyPolicy: cannotTell("KMS GetKeyPolicy: access denied") };
    expect(judgeReaders(facts([reader(role("app"), readsViaIam)], unreadable))?.unknown).toHaveLength(1);
    expect(judgeReaders(facts([reader(role("app"), readsViaIam, answer("allowed"))], unreadable))).toMatchObject({
      losing: [],
      unknown: [],
    });
  });

  it("non-readers are not judged; no readers fact, no judgement; an unreadable one is an unknown", () => {
    expect(judgeReaders(facts([reader(role("app"), answer("implicitDeny"), undefined)]))).toEqual({
      losing: [],
      unknown: [],
      examined: 1,
      skipped: 0,
    });
    expect(judgeReaders(healthy())).toBeUndefined();
    expect(judgeReaders({ ...healthy(), readers: cannotTell("IAM ListRoles: access denied") })?.unknown).toEqual([
      { principal: `the roles and users of account ${ACCOUNT}`, why: "IAM ListRoles: access denied" },
    ]);
  });
});

describe("preflight's reader findings", () => {
  const lacking = (n: number) =>
    Array.from({ length: n }, (_, i) => reader(role(`app-${i}`), answer("allowed", "read")));

  it("readers-lack-decrypt: a blocker naming the first five and counting the rest, with the statement to add", () => {
    const { blockers } = evaluatePreflight(facts(lacking(7)));
    expect(blockers.map((b) => b.code)).toEqual(["readers-lack-decrypt"]);
    const [finding] = blockers;
    expect(finding?.message).toContain(`7 IAM principal(s) of account ${ACCOUNT} can read objects of bucket ${BUCKET}`);
    expect(finding?.message).toContain(role("app-4"));
    expect(finding?.message).not.toContain(role("app-5"));
    expect(finding?.message).toContain("and 2 more");
    expect(finding?.fix).toContain(JSON.stringify(identityStatement(KEY, REGION)));
    expect(finding?.fix).toContain("and 2 more");
  });

  it("acknowledging readers-lack-decrypt makes it a warning", () => {
    const { blockers, warnings } = evaluatePreflight(facts(lacking(1)), { acknowledge: ["readers-lack-decrypt"] });
    expect(blockers).toEqual([]);
    expect(warnings).toMatchObject([{ code: "readers-lack-decrypt", acknowledged: true }]);
  });

  it("readers-unknown: a warning, with how to check by hand", () => {
    const { blockers, warnings } = evaluatePreflight({
      ...healthy(),
      readers: cannotTell("IAM ListRoles: access denied"),
    });
    expect(blockers).toEqual([]);
    expect(warnings.map((w) => w.code)).toEqual(["readers-unknown"]);
    expect(warnings[0]?.message).toContain("IAM ListRoles: access denied");
    expect(warnings[0]?.fix).toContain("iam:SimulatePrincipalPolicy");
  });
});

describe("preflight: a key in a custom key store", () => {
  const inStore = (details: CustomKeyStoreFacts) =>
    evaluatePreflight({
      ...healthy(),
      key: { arn: KEY, state: "Enabled", keyManager: "CUSTOMER", customKeyStore: details },
    });

  it("warns of the key store's fixed request quota and why the Bucket Key matters, per kind of store", () => {
    const hsm = inStore({ id: "cks-1", details: { type: "AWS_CLOUDHSM", name: "hsm", connectionState: "CONNECTED" } });
    expect(hsm.blockers).toEqual([]);
    expect(hsm.warnings.map((w) => w.code)).toEqual(["key-in-custom-key-store"]);
    const [w] = hsm.warnings;
    expect(w?.message).toContain("an AWS CloudHSM key store");
    expect(w?.message).toContain("1,800 requests per second");
    expect(w?.message).toContain(
      "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html#rps-key-stores",
    );
    expect(w?.fix).toContain("Bucket Key");
    expect(w?.fix).toContain("https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html");
    const xks = inStore({ id: "cks-2", details: { type: "EXTERNAL_KEY_STORE", connectionState: "DISCONNECTED" } });
    expect(xks.warnings[0]?.message).toContain("external key manager");
    expect(xks.warnings[0]?.message).toContain("The key store is DISCONNECTED");
    const unknown = inStore({ id: "cks-3", details: cannotTell("KMS DescribeCustomKeyStores: access denied") });
    expect(unknown.warnings[0]?.message).toContain("a custom key store (custom key store cks-3 (type unknown");
  });

  it("says so in the facts summary; a key in KMS's own store raises nothing", () => {
    const key = { arn: KEY, state: "Enabled", keyManager: "CUSTOMER" };
    expect(
      summarizeFacts({
        ...healthy(),
        key: { ...key, customKeyStore: { id: "cks-1", details: { type: "AWS_CLOUDHSM" } } },
      }).key,
    ).toBe("Enabled, CUSTOMER, custom key store cks-1 (AWS_CLOUDHSM)");
    expect(evaluatePreflight({ ...healthy(), key }).warnings).toEqual([]);
  });
});
