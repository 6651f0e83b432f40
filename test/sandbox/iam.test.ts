import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  type ContextEntry,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  type EvaluationResult,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { beforeAll, describe, expect, it } from "vitest";
import { SANDBOX_CREDENTIALS } from "../../sandbox/config.ts";
import { startSandbox } from "../../sandbox/server.ts";
import { awsCliEnv, cliWorks, useSandbox } from "../support/sandbox.ts";

const run = promisify(execFile);
const onPath = await cliWorks();
/** Debian's aws-cli v2 package, which a pip-installed v1 on PATH shadows. */
const debianV2 = existsSync("/usr/bin/aws") && (await cliWorks("/usr/bin/aws")) ? "/usr/bin/aws" : undefined;

const TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const BUCKET = "reader-data";
const OBJECTS = `arn:aws:s3:::${BUCKET}/*`;
const OBJECT = `arn:aws:s3:::${BUCKET}/reports/2026.csv`;

function policy(...Statement: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement });
}

const readObjects = { Effect: "Allow", Action: "s3:GetObject", Resource: OBJECTS };

describe("sandbox IAM with the real SDK client", () => {
  const env = useSandbox();
  let iam: IAMClient;
  let keyArn = "";
  const roleArn = (name: string) => `arn:aws:iam::${env.sandbox.identity.accountId}:role/${name}`;

  async function role(name: string, inline: Record<string, string> = {}, attach: string[] = []): Promise<string> {
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }));
    for (const [PolicyName, PolicyDocument] of Object.entries(inline)) {
      await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName, PolicyDocument }));
    }
    for (const PolicyArn of attach) await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn }));
    return roleArn(name);
  }

  /** s3:GetObject on the object and kms:Decrypt on the key, as a reader of re-encrypted objects needs both. */
  async function canRead(
    source: string,
    extra: { ContextEntries?: ContextEntry[]; ResourcePolicy?: string; CallerArn?: string } = {},
  ): Promise<Record<string, EvaluationResult>> {
    const object = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: source,
        ActionNames: ["s3:GetObject"],
        ResourceArns: [OBJECT],
        ...extra,
      }),
    );
    const key = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: source,
        ActionNames: ["kms:Decrypt"],
        ResourceArns: [keyArn],
        ...(extra.ContextEntries ? { ContextEntries: extra.ContextEntries } : {}),
      }),
    );
    return Object.fromEntries(
      [...(object.EvaluationResults ?? []), ...(key.EvaluationResults ?? [])].map((r) => [r.EvalActionName ?? "", r]),
    );
  }

  beforeAll(async () => {
    iam = env.clients.iam;
    const { KeyMetadata } = await env.kms.send(new CreateKeyCommand({ Description: "target" }));
    keyArn = KeyMetadata?.Arn ?? "";
  });

  describe("roles, users and policies", () => {
    it("CreateRole answers the role in the sandbox account; GetRole and ListRoles find it; a second one is refused", async () => {
      const { Role } = await iam.send(
        new CreateRoleCommand({
          RoleName: "crud-role",
          Path: "/service/",
          AssumeRolePolicyDocument: TRUST,
          Description: "reads reports",
          Tags: [{ Key: "team", Value: "data" }],
        }),
      );
      expect(Role).toMatchObject({
        RoleName: "crud-role",
        Path: "/service/",
        Arn: `arn:aws:iam::${env.sandbox.identity.accountId}:role/service/crud-role`,
        Description: "reads reports",
        MaxSessionDuration: 3600,
        Tags: [{ Key: "team", Value: "data" }],
      });
      expect(Role?.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
      expect(Role?.CreateDate).toBeInstanceOf(Date);
      expect(JSON.parse(decodeURIComponent(Role?.AssumeRolePolicyDocument ?? ""))).toEqual(JSON.parse(TRUST));
      const got = await iam.send(new GetRoleCommand({ RoleName: "crud-role" }));
      expect(got.Role?.RoleId).toBe(Role?.RoleId);
      const listed = await iam.send(new ListRolesCommand({ PathPrefix: "/service/" }));
      expect(listed.Roles?.map((r) => r.RoleName)).toEqual(["crud-role"]);
      expect(listed.Roles?.[0]?.Tags).toBeUndefined();
      await expect(
        iam.send(new CreateRoleCommand({ RoleName: "CRUD-role", AssumeRolePolicyDocument: TRUST })),
      ).rejects.toMatchObject({ name: "EntityAlreadyExistsException", $metadata: { httpStatusCode: 409 } });
      await expect(iam.send(new GetRoleCommand({ RoleName: "none" }))).rejects.toMatchObject({
        name: "NoSuchEntityException",
        $metadata: { httpStatusCode: 404 },
      });
    });

    it("ListRoles pages with MaxItems and Marker, sorted by name", async () => {
      for (const n of ["page-c", "page-a", "page-b"]) {
        await iam.send(new CreateRoleCommand({ RoleName: n, Path: "/paged/", AssumeRolePolicyDocument: TRUST }));
      }
      const first = await iam.send(new ListRolesCommand({ PathPrefix: "/paged/", MaxItems: 2 }));
      expect(first.Roles?.map((r) => r.RoleName)).toEqual(["page-a", "page-b"]);
      expect(first.IsTruncated).toBe(true);
      const rest = await iam.send(new ListRolesCommand({ PathPrefix: "/paged/", MaxItems: 2, Marker: first.Marker }));
      expect(rest.Roles?.map((r) => r.RoleName)).toEqual(["page-c"]);
      expect(rest.IsTruncated).toBe(false);
    });

    it("refuses documents IAM would refuse", async () => {
      await expect(
        iam.send(new CreateRoleCommand({ RoleName: "bad-trust", AssumeRolePolicyDocument: "{" })),
      ).rejects.toMatchObject({ name: "MalformedPolicyDocumentException" });
      await iam.send(new CreateRoleCommand({ RoleName: "strict", AssumeRolePolicyDocument: TRUST }));
      const withPrincipal = policy({ ...readObjects, Principal: "*" });
      await expect(
        iam.send(new PutRolePolicyCommand({ RoleName: "strict", PolicyName: "p", PolicyDocument: withPrincipal })),
      ).rejects.toMatchObject({ name: "MalformedPolicyDocumentException", message: /should not specify a principal/ });
      await expect(
        iam.send(new PutRolePolicyCommand({ RoleName: "none", PolicyName: "p", PolicyDocument: policy(readObjects) })),
      ).rejects.toMatchObject({ name: "NoSuchEntityException" });
      await expect(
        iam.send(new CreateRoleCommand({ RoleName: "bad name!", AssumeRolePolicyDocument: TRUST })),
      ).rejects.toMatchObject({ name: "ValidationError", $metadata: { httpStatusCode: 400 } });
    });

    it("inline and managed role policies: put, list, get URL-encoded, attach, count attachments, read version v1", async () => {
      const document = policy(readObjects, { Effect: "Allow", Action: ["s3:List*"], Resource: "*" });
      await role("inline-role", { read: document, other: policy(readObjects) });
      expect((await iam.send(new ListRolePoliciesCommand({ RoleName: "inline-role" }))).PolicyNames).toEqual([
        "other",
        "read",
      ]);
      const got = await iam.send(new GetRolePolicyCommand({ RoleName: "inline-role", PolicyName: "read" }));
      expect(got.PolicyDocument).not.toContain("{");
      expect(got.PolicyDocument).toContain("%2A");
      expect(decodeURIComponent(got.PolicyDocument ?? "")).toBe(document);
      await expect(
        iam.send(new GetRolePolicyCommand({ RoleName: "inline-role", PolicyName: "none" })),
      ).rejects.toMatchObject({ name: "NoSuchEntityException" });

      const { Policy } = await iam.send(
        new CreatePolicyCommand({
          PolicyName: "decrypt-any",
          PolicyDocument: policy({ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }),
        }),
      );
      expect(Policy).toMatchObject({ DefaultVersionId: "v1", AttachmentCount: 0, IsAttachable: true, Path: "/" });
      expect(Policy?.Arn).toBe(`arn:aws:iam::${env.sandbox.identity.accountId}:policy/decrypt-any`);
      await iam.send(new AttachRolePolicyCommand({ RoleName: "inline-role", PolicyArn: Policy?.Arn }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: "inline-role", PolicyArn: Policy?.Arn }));
      const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "inline-role" }));
      expect(attached.AttachedPolicies).toEqual([{ PolicyName: "decrypt-any", PolicyArn: Policy?.Arn }]);
      expect((await iam.send(new GetPolicyCommand({ PolicyArn: Policy?.Arn }))).Policy?.AttachmentCount).toBe(1);
      const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: Policy?.Arn, VersionId: "v1" }));
      expect(version.PolicyVersion).toMatchObject({ VersionId: "v1", IsDefaultVersion: true });
      expect(JSON.parse(decodeURIComponent(version.PolicyVersion?.Document ?? ""))).toMatchObject({
        Statement: [{ Action: "kms:Decrypt" }],
      });
      await expect(
        iam.send(new GetPolicyVersionCommand({ PolicyArn: Policy?.Arn, VersionId: "v2" })),
      ).rejects.toMatchObject({ name: "NoSuchEntityException" });
      await expect(
        iam.send(
          new AttachRolePolicyCommand({ RoleName: "inline-role", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }),
        ),
      ).rejects.toMatchObject({ name: "NoSuchEntityException" });
      await expect(iam.send(new GetPolicyCommand({ PolicyArn: "not-an-arn" }))).rejects.toMatchObject({
        name: "InvalidInputException",
      });
    });

    it("users: create, list, inline and attached policies", async () => {
      const { User } = await iam.send(new CreateUserCommand({ UserName: "analyst" }));
      expect(User?.Arn).toBe(`arn:aws:iam::${env.sandbox.identity.accountId}:user/analyst`);
      expect(User?.UserId).toMatch(/^AIDA/);
      await iam.send(
        new PutUserPolicyCommand({ UserName: "analyst", PolicyName: "read", PolicyDocument: policy(readObjects) }),
      );
      expect((await iam.send(new ListUserPoliciesCommand({ UserName: "analyst" }))).PolicyNames).toEqual(["read"]);
      const got = await iam.send(new GetUserPolicyCommand({ UserName: "analyst", PolicyName: "read" }));
      expect(got.UserName).toBe("analyst");
      expect(decodeURIComponent(got.PolicyDocument ?? "")).toBe(policy(readObjects));
      const { Policy } = await iam.send(
        new CreatePolicyCommand({
          PolicyName: "user-decrypt",
          PolicyDocument: policy({ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }),
        }),
      );
      await iam.send(new AttachUserPolicyCommand({ UserName: "analyst", PolicyArn: Policy?.Arn }));
      expect((await iam.send(new ListAttachedUserPoliciesCommand({ UserName: "analyst" }))).AttachedPolicies).toEqual([
        { PolicyName: "user-decrypt", PolicyArn: Policy?.Arn },
      ]);
      expect((await iam.send(new ListUsersCommand({}))).Users?.map((u) => u.UserName)).toContain("analyst");
      await expect(iam.send(new ListUserPoliciesCommand({ UserName: "nobody" }))).rejects.toMatchObject({
        name: "NoSuchEntityException",
      });
    });
  });

  describe("SimulatePrincipalPolicy: can a reader still read re-encrypted objects?", () => {
    it("a role that reads the bucket but has no kms:Decrypt on the key: allowed, then implicitDeny", async () => {
      const arn = await role("reader-no-kms", { read: policy(readObjects) });
      const r = await canRead(arn);
      expect(r["s3:GetObject"]).toMatchObject({
        EvalDecision: "allowed",
        EvalResourceName: expect.stringMatching(/^arn:\$\{Partition\}:s3:::\$\{BucketName\}\/\$\{KeyName\}$/),
        MatchedStatements: [{ SourcePolicyId: "read", SourcePolicyType: "role" }],
        ResourceSpecificResults: [{ EvalResourceName: OBJECT, EvalResourceDecision: "allowed" }],
      });
      expect(r["kms:Decrypt"]).toMatchObject({ EvalDecision: "implicitDeny", MatchedStatements: [] });
    });

    it("a role with both, the key grant in an attached managed policy: allowed twice", async () => {
      const { Policy } = await iam.send(
        new CreatePolicyCommand({
          PolicyName: "decrypt-target-key",
          PolicyDocument: policy({ Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: keyArn }),
        }),
      );
      const arn = await role("reader-with-kms", { read: policy(readObjects) }, [Policy?.Arn ?? ""]);
      const r = await canRead(arn);
      expect(r["s3:GetObject"]?.EvalDecision).toBe("allowed");
      expect(r["kms:Decrypt"]).toMatchObject({
        EvalDecision: "allowed",
        MatchedStatements: [{ SourcePolicyId: "decrypt-target-key", SourcePolicyType: "user-managed" }],
      });
    });

    it("a role denied explicitly: the Deny wins over an Allow, and only the Deny is matched", async () => {
      const arn = await role("reader-denied", {
        read: policy(readObjects, { Effect: "Allow", Action: "kms:*", Resource: "*" }),
        guard: policy({ Sid: "NoDecrypt", Effect: "Deny", Action: "kms:Decrypt", Resource: "*" }),
      });
      const r = await canRead(arn);
      expect(r["s3:GetObject"]?.EvalDecision).toBe("allowed");
      expect(r["kms:Decrypt"]).toMatchObject({
        EvalDecision: "explicitDeny",
        MatchedStatements: [{ SourcePolicyId: "guard", SourcePolicyType: "role" }],
      });
    });

    it("a grant under a condition: allowed with the context that meets it, implicitDeny and named missing without", async () => {
      const arn = await role("reader-via-s3", {
        read: policy(readObjects, {
          Effect: "Allow",
          Action: "kms:Decrypt",
          Resource: keyArn,
          Condition: {
            StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" },
            StringLike: { "kms:EncryptionContext:aws:s3:arn": `arn:aws:s3:::${BUCKET}*` },
          },
        }),
      });
      const via = (service: string): ContextEntry[] => [
        { ContextKeyName: "kms:ViaService", ContextKeyValues: [service], ContextKeyType: "string" },
        {
          ContextKeyName: "kms:encryptioncontext:aws:s3:arn",
          ContextKeyValues: [`arn:aws:s3:::${BUCKET}`],
          ContextKeyType: "string",
        },
      ];
      expect((await canRead(arn, { ContextEntries: via("s3.us-east-1.amazonaws.com") }))["kms:Decrypt"]).toMatchObject({
        EvalDecision: "allowed",
        MissingContextValues: [],
      });
      expect(
        (await canRead(arn, { ContextEntries: via("ec2.us-east-1.amazonaws.com") }))["kms:Decrypt"]?.EvalDecision,
      ).toBe("implicitDeny");
      const without = (await canRead(arn))["kms:Decrypt"];
      expect(without?.EvalDecision).toBe("implicitDeny");
      expect([...(without?.MissingContextValues ?? [])].sort()).toEqual([
        "kms:EncryptionContext:aws:s3:arn",
        "kms:ViaService",
      ]);
    });

    it("conditions IAM reads for an absent key: IfExists and negated operators hold, others do not", async () => {
      const arn = await role("reader-absent-keys", {
        conditions: policy(
          {
            ...readObjects,
            Resource: "*",
            Condition: { StringEqualsIfExists: { "s3:ExistingObjectTag/class": "open" } },
          },
          {
            Effect: "Allow",
            Action: "s3:PutObject",
            Resource: "*",
            Condition: { StringNotEquals: { "s3:x-amz-acl": "public-read" } },
          },
          {
            Effect: "Allow",
            Action: "s3:ListBucket",
            Resource: "*",
            Condition: { NumericLessThan: { "s3:max-keys": "10" } },
          },
          {
            Effect: "Allow",
            Action: "s3:DeleteObject",
            Resource: "*",
            Condition: { StringEquals: { "aws:PrincipalTag/team": "data" } },
          },
        ),
      });
      const out = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: arn,
          ActionNames: ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
        }),
      );
      expect(out.EvaluationResults?.map((r) => [r.EvalActionName, r.EvalDecision, r.MissingContextValues])).toEqual([
        ["s3:GetObject", "allowed", ["s3:ExistingObjectTag/class"]],
        ["s3:PutObject", "allowed", ["s3:x-amz-acl"]],
        ["s3:ListBucket", "implicitDeny", ["s3:max-keys"]],
        ["s3:DeleteObject", "implicitDeny", ["aws:PrincipalTag/team"]],
      ]);
    });

    it("a resource policy: Deny in a bucket policy wins; an Allow there suffices in one account but not across accounts", async () => {
      const noGrants = await role("reader-by-bucket-policy");
      const bucketPolicy = (effect: string, principal: string) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: effect, Principal: { AWS: principal }, Action: "s3:GetObject", Resource: OBJECTS }],
        });
      const simulate = (ResourcePolicy: string, ResourceOwner?: string) =>
        iam.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: noGrants,
            ActionNames: ["s3:GetObject"],
            ResourceArns: [OBJECT],
            ResourcePolicy,
            ...(ResourceOwner ? { ResourceOwner } : {}),
          }),
        );
      const allowedByBucket = (await simulate(bucketPolicy("Allow", noGrants))).EvaluationResults?.[0];
      expect(allowedByBucket).toMatchObject({
        EvalDecision: "allowed",
        MatchedStatements: [{ SourcePolicyId: "ResourcePolicy", SourcePolicyType: "resource" }],
        EvalDecisionDetails: {},
      });
      const elsewhere = (await simulate(bucketPolicy("Allow", noGrants), "111122223333")).EvaluationResults?.[0];
      expect(elsewhere).toMatchObject({
        EvalDecision: "implicitDeny",
        EvalDecisionDetails: { "IAM Policy": "implicitDeny", "Resource Policy": "allowed" },
      });
      const reader = await role("reader-denied-by-bucket", { read: policy(readObjects) });
      const denied = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: reader,
          ActionNames: ["s3:GetObject"],
          ResourceArns: [OBJECT],
          ResourcePolicy: bucketPolicy("Deny", "*"),
        }),
      );
      expect(denied.EvaluationResults?.[0]).toMatchObject({
        EvalDecision: "explicitDeny",
        MatchedStatements: [{ SourcePolicyId: "ResourcePolicy" }],
      });
    });

    it("PolicyInputList, a permissions boundary, resources * and statement positions", async () => {
      const arn = await role("reader-inputs");
      const given = `{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" }
  ]
}`;
      const out = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: arn,
          ActionNames: ["s3:GetObject", "s3:PutObject"],
          PolicyInputList: [given, policy({ Effect: "Allow", Action: "s3:PutObject", Resource: "*" })],
          PermissionsBoundaryPolicyInputList: [policy({ Effect: "Allow", Action: "s3:Get*", Resource: "*" })],
        }),
      );
      const [get, put] = out.EvaluationResults ?? [];
      expect(get).toMatchObject({
        EvalResourceName: "*",
        EvalDecision: "allowed",
        MatchedStatements: [
          {
            SourcePolicyId: "PolicyInputList.1",
            SourcePolicyType: "none",
            StartPosition: { Line: 4, Column: 5 },
            EndPosition: { Line: 4, Column: 68 },
          },
        ],
        PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: true },
      });
      expect(get?.EvalDecisionDetails).toBeUndefined();
      expect(put).toMatchObject({
        EvalDecision: "implicitDeny",
        PermissionsBoundaryDecisionDetail: { AllowedByPermissionsBoundary: false },
      });
    });

    it("several resources: one result per action, the most restrictive decision, each resource's own", async () => {
      const arn = await role("reader-one-prefix", {
        read: policy({ Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::${BUCKET}/reports/*` }),
      });
      const other = `arn:aws:s3:::${BUCKET}/private/x`;
      const out = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: arn,
          ActionNames: ["s3:GetObject"],
          ResourceArns: [OBJECT, other],
        }),
      );
      expect(out.EvaluationResults).toHaveLength(1);
      expect(out.EvaluationResults?.[0]?.EvalDecision).toBe("implicitDeny");
      expect(
        out.EvaluationResults?.[0]?.ResourceSpecificResults?.map((r) => [r.EvalResourceName, r.EvalResourceDecision]),
      ).toEqual([
        [OBJECT, "allowed"],
        [other, "implicitDeny"],
      ]);
    });

    it("a user's policies, with a policy variable in Resource", async () => {
      await iam.send(new CreateUserCommand({ UserName: "home-user" }));
      const home = ["arn:aws:s3:::", BUCKET, "/home/$", "{aws:username}/*"].join("");
      await iam.send(
        new PutUserPolicyCommand({
          UserName: "home-user",
          PolicyName: "home",
          PolicyDocument: policy({ Effect: "Allow", Action: "s3:GetObject", Resource: home }),
        }),
      );
      const simulate = (entries: ContextEntry[]) =>
        iam.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: `arn:aws:iam::${env.sandbox.identity.accountId}:user/home-user`,
            ActionNames: ["s3:GetObject"],
            ResourceArns: [`arn:aws:s3:::${BUCKET}/home/home-user/notes.txt`],
            ContextEntries: entries,
          }),
        );
      const named = [
        { ContextKeyName: "aws:username", ContextKeyValues: ["home-user"], ContextKeyType: "string" as const },
      ];
      expect((await simulate(named)).EvaluationResults?.[0]?.EvalDecision).toBe("allowed");
      expect((await simulate([])).EvaluationResults?.[0]?.EvalDecision).toBe("implicitDeny");
    });

    it("refuses what it cannot simulate", async () => {
      await expect(
        iam.send(
          new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn("ghost"), ActionNames: ["s3:GetObject"] }),
        ),
      ).rejects.toMatchObject({ name: "NoSuchEntityException" });
      await expect(
        iam.send(
          new SimulatePrincipalPolicyCommand({ PolicySourceArn: "arn:aws:s3:::x", ActionNames: ["s3:GetObject"] }),
        ),
      ).rejects.toMatchObject({ name: "InvalidInputException" });
      await role("reader-bad-input");
      await expect(
        iam.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: roleArn("reader-bad-input"),
            ActionNames: ["s3:GetObject"],
            PolicyInputList: [policy({ ...readObjects, Principal: "*" })],
          }),
        ),
      ).rejects.toMatchObject({ name: "MalformedPolicyDocumentException" });
    });
  });
});

describe("sandbox IAM state in a data directory", () => {
  it("keeps roles, their policies and managed policies across a restart", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sandbox-iam-"));
    try {
      const client = (endpoint: string) =>
        new IAMClient({ region: "us-east-1", endpoint, credentials: SANDBOX_CREDENTIALS, maxAttempts: 1 });
      const first = await startSandbox({ port: 0, dataDir: dir });
      const before = client(first.endpoint);
      await before.send(new CreateRoleCommand({ RoleName: "kept", AssumeRolePolicyDocument: TRUST }));
      await before.send(
        new PutRolePolicyCommand({ RoleName: "kept", PolicyName: "read", PolicyDocument: policy(readObjects) }),
      );
      const { Policy } = await before.send(
        new CreatePolicyCommand({ PolicyName: "kept-policy", PolicyDocument: policy(readObjects) }),
      );
      await before.send(new AttachRolePolicyCommand({ RoleName: "kept", PolicyArn: Policy?.Arn }));
      const kept = (await before.send(new GetRoleCommand({ RoleName: "kept" }))).Role;
      before.destroy();
      await first.close();

      const second = await startSandbox({ port: 0, dataDir: dir });
      const after = client(second.endpoint);
      try {
        const restored = (await after.send(new GetRoleCommand({ RoleName: "kept" }))).Role;
        expect(restored).toMatchObject({ RoleId: kept?.RoleId, Arn: kept?.Arn, CreateDate: kept?.CreateDate });
        expect((await after.send(new ListRolePoliciesCommand({ RoleName: "kept" }))).PolicyNames).toEqual(["read"]);
        expect((await after.send(new GetPolicyCommand({ PolicyArn: Policy?.Arn }))).Policy?.AttachmentCount).toBe(1);
      } finally {
        after.destroy();
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(onPath)("aws iam against the sandbox (skipped: `aws` is not on PATH)", () => {
  const env = useSandbox();
  const clis = [
    { name: "aws CLI v1", bin: "aws" },
    ...(debianV2 ? [{ name: "Debian's aws CLI v2", bin: debianV2 }] : []),
  ];
  let keyArn = "";

  beforeAll(async () => {
    const { KeyMetadata } = await env.kms.send(new CreateKeyCommand({}));
    keyArn = KeyMetadata?.Arn ?? "";
  });

  async function aws(bin: string, ...args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run(bin, ["iam", ...args, "--endpoint-url", env.sandbox.endpoint, "--output", "json"], {
      env: awsCliEnv(env.sandbox),
    });
    return stdout.trim() === "" ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  }

  it.each(clis)("$name: create-role, put-role-policy, get-role-policy, simulate-principal-policy", async ({ bin }) => {
    const name = `cli-reader-${path.basename(bin)}-${clis.findIndex((c) => c.bin === bin)}`;
    const created = (await aws(bin, "create-role", "--role-name", name, "--assume-role-policy-document", TRUST))
      .Role as {
      Arn: string;
    };
    expect(created.Arn).toBe(`arn:aws:iam::${env.sandbox.identity.accountId}:role/${name}`);
    const document = policy(readObjects, {
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: keyArn,
      Condition: { StringEquals: { "kms:ViaService": "s3.us-east-1.amazonaws.com" } },
    });
    await aws(bin, "put-role-policy", "--role-name", name, "--policy-name", "read", "--policy-document", document);
    // The CLI decodes the URL-encoded document for display.
    const got = await aws(bin, "get-role-policy", "--role-name", name, "--policy-name", "read");
    expect(got.PolicyDocument).toEqual(JSON.parse(document));
    expect((await aws(bin, "list-roles")).Roles).toEqual(
      expect.arrayContaining([expect.objectContaining({ RoleName: name })]),
    );
    const simulated = await aws(
      bin,
      "simulate-principal-policy",
      "--policy-source-arn",
      created.Arn,
      "--action-names",
      "s3:GetObject",
      "kms:Decrypt",
      "--resource-arns",
      OBJECT,
      "--context-entries",
      "ContextKeyName=kms:ViaService,ContextKeyValues=s3.us-east-1.amazonaws.com,ContextKeyType=string",
    );
    const decisions = (simulated.EvaluationResults as { EvalActionName: string; EvalDecision: string }[]).map((r) => [
      r.EvalActionName,
      r.EvalDecision,
    ]);
    // kms:Decrypt is simulated on the object's ARN here, which the key grant's Resource does not name.
    expect(decisions).toEqual([
      ["s3:GetObject", "allowed"],
      ["kms:Decrypt", "implicitDeny"],
    ]);
    const onKey = await aws(
      bin,
      "simulate-principal-policy",
      "--policy-source-arn",
      created.Arn,
      "--action-names",
      "kms:Decrypt",
      "--resource-arns",
      keyArn,
      "--context-entries",
      "ContextKeyName=kms:ViaService,ContextKeyValues=s3.us-east-1.amazonaws.com,ContextKeyType=string",
    );
    expect((onKey.EvaluationResults as { EvalDecision: string }[])[0]?.EvalDecision).toBe("allowed");
    await expect(aws(bin, "get-role", "--role-name", "nobody")).rejects.toMatchObject({
      stderr: expect.stringContaining("NoSuchEntity"),
    });
  });
});
