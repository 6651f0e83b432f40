import { describe, expect, it } from "vitest";
import type { Finding } from "../../contract/preflight.ts";
import { cannotTell, type PreflightFacts } from "../../steps/domain/preflight-facts.ts";
import { checkBucketPolicy, checkKeyPolicy } from "../../steps/domain/preflight-policies.ts";
import { ACCOUNT, BUCKET, healthy, KEY, policy, REGION, ROLE, ROOT_KEY_STATEMENT } from "./preflight-fixtures.ts";

const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const OBJECTS = `${BUCKET_ARN}/*`;
const OTHER_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0000aaaa-00aa-00aa-00aa-000000000000`;
const READER = `arn:aws:iam::${ACCOUNT}:role/reader`;
const SSE = "s3:x-amz-server-side-encryption";
const SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id";
const CONTEXT = "kms:EncryptionContext:aws:s3:arn";

function findings(check: typeof checkBucketPolicy, changes: Partial<PreflightFacts>): Finding[] {
  const raised: Finding[] = [];
  check({ ...healthy(), ...changes }, (code, message, fix) => raised.push({ code, message, fix }));
  return raised;
}
const bucketPolicy = (...statements: object[]) => findings(checkBucketPolicy, { bucketPolicy: policy(...statements) });
const keyPolicy = (...statements: object[]) => findings(checkKeyPolicy, { keyPolicy: policy(...statements) });
const codes = (fs: Finding[]) => fs.map((f) => f.code);

/** A bucket policy Deny of s3:PutObject on the bucket's objects to everyone, with `changes`. */
const denyPut = (changes: object = {}) => ({
  Effect: "Deny",
  Principal: "*",
  Action: "s3:PutObject",
  Resource: OBJECTS,
  ...changes,
});

/** A key policy grant of everything rekey's role needs, with `changes`. */
const grantRole = (changes: object = {}) => ({
  Effect: "Allow",
  Principal: { AWS: ROLE },
  Action: ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*"],
  Resource: "*",
  ...changes,
});

/** A key policy grant to a reader conditioned on the S3 encryption context. */
const readerWhen = (op: string, values: string | string[], Sid = "Readers") => ({
  Sid,
  Effect: "Allow",
  Principal: { AWS: READER },
  Action: "kms:Decrypt",
  Resource: "*",
  Condition: { [op]: { [CONTEXT]: values } },
});

describe("checkBucketPolicy", () => {
  it("has nothing to say about a bucket without a policy", () => {
    expect(findings(checkBucketPolicy, { bucketPolicy: null })).toEqual([]);
  });

  it("bucket-policy-unknown: a policy it cannot read, or cannot parse", () => {
    expect(findings(checkBucketPolicy, { bucketPolicy: cannotTell("GetBucketPolicy: AccessDenied") })).toEqual([
      {
        code: "bucket-policy-unknown",
        message: `rekey cannot read the bucket policy of ${BUCKET} (GetBucketPolicy: AccessDenied); a Deny on s3:PutObject would fail every copy.`,
        fix: "Grant s3:GetBucketPolicy to the preflight role to have it checked.",
      },
    ]);
    expect(findings(checkBucketPolicy, { bucketPolicy: "{" })[0]?.message).toContain("(the policy is not valid JSON)");
  });

  it("policy-denies-copy: names the statement, the request and its condition, and says how to change it", () => {
    const condition = { StringNotEquals: { [SSE]: "AES256" } };
    expect(bucketPolicy(denyPut({ Sid: "RequireSseS3", Condition: condition }))).toEqual([
      {
        code: "policy-denies-copy",
        message: `Bucket policy statement "RequireSseS3" denies the copies (s3:PutObject with SSE aws:kms, key ${KEY}, Bucket Key on) to the Batch Operations role ${ROLE}: condition {"StringNotEquals":{"${SSE}":"AES256"}}. Every such task would fail with AccessDenied.`,
        fix: "Change the statement so that it allows rekey's request (or exempt the Batch Operations role), then start a new run.",
      },
    ]);
  });

  it("policy-denies-update-encryption: a statement without condition is named by position", () => {
    expect(bucketPolicy(denyPut({ Action: "s3:UpdateObjectEncryption" }))).toEqual([
      {
        code: "policy-denies-update-encryption",
        message: `Bucket policy statement #1 denies S3UpdateObjectEncryption to the Batch Operations role ${ROLE}. Every such task would fail with AccessDenied.`,
        fix: "Change the statement so that it allows rekey's request (or exempt the Batch Operations role), then start a new run.",
      },
    ]);
  });

  it("ignores Allow statements", () => {
    expect(bucketPolicy({ ...denyPut(), Effect: "Allow" })).toEqual([]);
  });

  it.each([
    ["every resource", "*"],
    ["the bucket's objects", OBJECTS],
    ["objects under a prefix", `${BUCKET_ARN}/reports/*`],
    ["a wildcard covering the bucket's objects", "arn:aws:s3:::data-*"],
  ])("a Deny on %s covers rekey's writes", (_, Resource) => {
    expect(codes(bucketPolicy(denyPut({ Resource })))).toEqual(["policy-denies-copy"]);
  });

  it.each([
    ["the bucket itself", BUCKET_ARN],
    ["another bucket's objects", "arn:aws:s3:::other-bucket/*"],
  ])("a Deny on %s does not", (_, Resource) => {
    expect(bucketPolicy(denyPut({ Resource }))).toEqual([]);
  });

  describe("the key named in a condition", () => {
    const named = (op: string, values: string | string[]) =>
      bucketPolicy(denyPut({ Condition: { [op]: { [SSE_KEY]: values } } }))[0]?.fix;
    const KEY_FIX = `The statement names the KMS key differently from the full ARN rekey sends (${KEY}); list that ARN in it. Then start a new run.`;
    const GENERIC_FIX =
      "Change the statement so that it allows rekey's request (or exempt the Batch Operations role), then start a new run.";

    it("a key given by another name (id, alias, other case) gets the fix that says to list the ARN", () => {
      expect(named("StringNotEquals", "1234abcd-12ab-34cd-56ef-1234567890ab")).toBe(KEY_FIX);
      expect(named("StringNotEquals", KEY.toUpperCase())).toBe(KEY_FIX);
      expect(named("StringNotEqualsIgnoreCase", "alias/data")).toBe(KEY_FIX);
    });

    it("a condition whose values include the key's ARN, literally or by wildcard, gets the general fix", () => {
      expect(named("StringEquals", [KEY, OTHER_KEY])).toBe(GENERIC_FIX);
      expect(named("StringNotEquals", `arn:aws:kms:${REGION}:${ACCOUNT}:key/*`)).toBe(GENERIC_FIX);
      expect(named("StringNotEquals", [])).toBe(GENERIC_FIX);
    });

    it("a condition on the encryption header alone gets the general fix", () => {
      expect(bucketPolicy(denyPut({ Condition: { StringNotEquals: { [SSE]: "AES256" } } }))[0]?.fix).toBe(GENERIC_FIX);
    });
  });

  it("policy-unclear: lists each statement once with every key it could not evaluate, or its head", () => {
    const raised = bucketPolicy(
      {
        Sid: "OnlyFromVpce",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: OBJECTS,
        Condition: { StringNotEquals: { "aws:SourceVpce": "vpce-1", "aws:SourceIp": "10.0.0.1" } },
      },
      denyPut({ Principal: ROLE }),
    );
    expect(raised).toEqual([
      {
        code: "policy-unclear",
        message: `Bucket policy Deny statement(s) "OnlyFromVpce" (aws:SourceVpce, aws:SourceIp); #2 ((principal, action or resource)) depend on conditions rekey cannot evaluate for the Batch Operations role's writes.`,
        fix: "Read these statements against rekey's requests: s3:PutObject from the Batch Operations role with SSE aws:kms, the target key's ARN and Bucket Key on; and s3:UpdateObjectEncryption.",
      },
    ]);
  });

  it("S3UpdateObjectEncryption sends no SSE headers rekey knows of, so a condition on them is unclear for it", () => {
    const raised = bucketPolicy(
      denyPut({ Sid: "RequireKms", Action: "s3:*", Condition: { StringNotEquals: { [SSE]: "aws:kms" } } }),
    );
    expect(codes(raised)).toEqual(["policy-unclear"]);
    expect(raised[0]?.message).toContain(`"RequireKms" (${SSE})`);
  });

  it("lets through Deny statements whose conditions rekey's writes satisfy, on every key it sets", () => {
    const unless = (op: string, key: string, value: string) =>
      denyPut({ Action: "s3:*", Condition: { [op]: { [key]: value } } });
    expect(
      bucketPolicy(
        unless("StringNotEquals", "aws:PrincipalArn", ROLE),
        unless("StringNotEquals", "aws:PrincipalAccount", ACCOUNT),
        unless("StringNotEquals", "aws:PrincipalType", "AssumedRole"),
        unless("Bool", "aws:SecureTransport", "false"),
        unless("StringNotEquals", "s3:ResourceAccount", ACCOUNT),
        denyPut({ Condition: { StringNotEquals: { [SSE]: "aws:kms" } } }),
        denyPut({ Condition: { StringNotEquals: { [SSE_KEY]: KEY } } }),
        denyPut({ Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption-bucket-key-enabled": "true" } } }),
        denyPut({ Condition: { Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" } } }),
      ),
    ).toEqual([]);
  });
});

describe("checkKeyPolicy", () => {
  it("key-policy-unknown: says what was not checked and how to check it by hand", () => {
    expect(findings(checkKeyPolicy, { keyPolicy: cannotTell("GetKeyPolicy: AccessDenied") })).toEqual([
      {
        code: "key-policy-unknown",
        message: `rekey cannot read the policy of KMS key ${KEY} (GetKeyPolicy: AccessDenied): it has not checked that the Batch Operations role may use the key, nor looked for encryption-context conditions that Bucket Keys break.`,
        fix: `Check the key policy by hand (aws kms get-key-policy --key-id ${KEY} --policy-name default), or grant kms:GetKeyPolicy to the preflight role.`,
      },
    ]);
  });

  it("has nothing to say about a key policy that lets the role use the key, through S3, with the bucket's context", () => {
    const when = (op: string, key: string, value: string | string[]) =>
      grantRole({ Condition: { [op]: { [key]: value } } });
    expect(keyPolicy(when("StringEquals", "kms:ViaService", `s3.${REGION}.amazonaws.com`))).toEqual([]);
    expect(keyPolicy(when("StringEquals", "kms:CallerAccount", ACCOUNT))).toEqual([]);
    expect(keyPolicy(when("StringEquals", CONTEXT, BUCKET_ARN))).toEqual([]);
    expect(keyPolicy(when("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["aws:s3:arn"]))).toEqual([]);
    expect(keyPolicy(when("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "aws:s3:arn"))).toEqual([]);
    expect(keyPolicy(when("StringEquals", "aws:PrincipalType", "AssumedRole"))).toEqual([]);
    expect(keyPolicy(when("StringEquals", "aws:PrincipalAccount", ACCOUNT))).toEqual([]);
    expect(keyPolicy(when("Bool", "aws:SecureTransport", "true"))).toEqual([]);
    expect(keyPolicy(grantRole({ Resource: KEY }))).toEqual([]);
  });

  it("key-policy-denies-batch-role: a grant on another key, with each refused action and why", () => {
    expect(
      keyPolicy(grantRole({ Resource: OTHER_KEY }), {
        Sid: "NoDecrypt",
        Effect: "Deny",
        Principal: "*",
        Action: "kms:Decrypt",
        Resource: "*",
      }),
    ).toEqual([
      {
        code: "key-policy-denies-batch-role",
        message: `The policy of KMS key ${KEY} does not let the Batch Operations role ${ROLE} use it through S3: kms:GenerateDataKey not allowed by any statement; kms:Decrypt denied by "NoDecrypt". Every copy would fail.`,
        fix: `Allow the role kms:GenerateDataKey and kms:Decrypt in the key policy (or allow the account, arn:aws:iam::${ACCOUNT}:root, and grant them in the role's IAM policy, as rekey's stack does), then start a new run.`,
      },
      {
        code: "key-policy-lacks-update-encryption",
        message: `The policy of KMS key ${KEY} does not give the Batch Operations role kms:Encrypt, kms:ReEncryptFrom, kms:ReEncryptTo, which S3UpdateObjectEncryption needs: tasks re-encrypting SSE-S3 or SSE-KMS objects would fail.`,
        fix: "Allow the role kms:Encrypt and kms:ReEncrypt* on the key if the bucket holds already-encrypted objects.",
      },
    ]);
  });

  it("key-policy-lacks-update-encryption: an explicit Deny of ReEncrypt counts as lacking it", () => {
    const raised = keyPolicy(grantRole(), {
      Effect: "Deny",
      Principal: "*",
      Action: "kms:ReEncryptTo",
      Resource: "*",
    });
    expect(codes(raised)).toEqual(["key-policy-lacks-update-encryption"]);
    expect(raised[0]?.message).toContain(`role kms:ReEncryptTo, which`);
  });

  it("key-policy-unclear: names the actions and the keys it could not evaluate", () => {
    expect(
      keyPolicy(
        grantRole({
          Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" }, StringEquals: { "aws:SourceVpce": "vpce-1" } },
        }),
      ),
    ).toEqual([
      {
        code: "key-policy-unclear",
        message: `Whether the policy of KMS key ${KEY} lets the Batch Operations role kms:GenerateDataKey, kms:Decrypt, kms:Encrypt, kms:ReEncryptFrom, kms:ReEncryptTo depends on what rekey cannot evaluate (aws:SourceIp, aws:SourceVpce).`,
        fix: "Read the key policy against S3 calling KMS for the Batch Operations role, with encryption context aws:s3:arn = the bucket ARN.",
      },
    ]);
  });

  it("key-policy-unclear without keys when a statement's principal cannot be read", () => {
    const raised = keyPolicy(
      grantRole({ Principal: ROLE, Action: "kms:Encrypt" }),
      grantRole({ Action: ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*"] }),
    );
    expect(raised[0]?.message).toBe(
      `Whether the policy of KMS key ${KEY} lets the Batch Operations role kms:Encrypt depends on what rekey cannot evaluate.`,
    );
  });

  describe("encryption-context-condition", () => {
    const broken = (...statements: object[]) =>
      codes(keyPolicy(ROOT_KEY_STATEMENT, ...statements)).includes("encryption-context-condition");

    it("quotes each statement with its operator and values, and says how to fix them", () => {
      const raised = keyPolicy(
        ROOT_KEY_STATEMENT,
        readerWhen("StringEquals", [`${BUCKET_ARN}/a`, `${BUCKET_ARN}/b`], "ByObject"),
        readerWhen("StringLike", `${BUCKET_ARN}/reports/*`, "ByPrefix"),
      );
      expect(raised).toEqual([
        {
          code: "encryption-context-condition",
          message: `Key policy statement(s) "ByObject" (StringEquals ${BUCKET_ARN}/a, ${BUCKET_ARN}/b); "ByPrefix" (StringLike ${BUCKET_ARN}/reports/*) condition on kms:EncryptionContext:aws:s3:arn naming objects of ${BUCKET}. With S3 Bucket Keys the encryption context is the bucket ARN (${BUCKET_ARN}), so these conditions stop matching: principals they allow lose access to re-encrypted objects (or a Deny starts to apply). IAM policies with such conditions are not checked here.`,
          fix: `Change the conditions to match ${BUCKET_ARN} (for example StringLike "${BUCKET_ARN}*"), in the key policy and in IAM policies that use them, then start a new run.`,
        },
      ]);
    });

    it("StringEquals compares literally: a wildcard, or the bucket ARN in another case, does not cover it", () => {
      expect(broken(readerWhen("StringEquals", ["arn:aws:s3:::data-*", `${BUCKET_ARN}/a`]))).toBe(true);
      expect(broken(readerWhen("StringNotEquals", ["arn:aws:s3:::data-*", `${BUCKET_ARN}/a`]))).toBe(true);
      expect(broken(readerWhen("StringEquals", [BUCKET_ARN, `${BUCKET_ARN}/a`]))).toBe(false);
      expect(broken(readerWhen("StringEquals", [BUCKET_ARN.toUpperCase(), `${BUCKET_ARN}/a`]))).toBe(true);
    });

    it("StringEqualsIgnoreCase compares literally, in any case", () => {
      expect(broken(readerWhen("StringEqualsIgnoreCase", ["ARN:AWS:S3:::DATA-*", `${BUCKET_ARN}/a`]))).toBe(true);
      expect(broken(readerWhen("StringEqualsIgnoreCase", [BUCKET_ARN.toUpperCase(), `${BUCKET_ARN}/a`]))).toBe(false);
      expect(broken(readerWhen("StringEqualsIgnoreCase", `${BUCKET_ARN}/a`))).toBe(true);
    });

    it("ArnEquals and ArnLike match wildcards alike (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN)", () => {
      expect(broken(readerWhen("ArnEquals", ["arn:aws:s3:::data-*", `${BUCKET_ARN}/reports/a`]))).toBe(false);
      expect(broken(readerWhen("ArnLike", ["arn:aws:s3:::data-*", `${BUCKET_ARN}/reports/a`]))).toBe(false);
      expect(broken(readerWhen("ArnEquals", `${BUCKET_ARN}/reports/a`))).toBe(true);
    });

    it("StringLike matches wildcards, case-sensitively", () => {
      expect(broken(readerWhen("StringLike", ["arn:aws:s3:::data-*", `${BUCKET_ARN}/a`]))).toBe(false);
      expect(broken(readerWhen("StringLike", ["ARN:AWS:S3:::DATA-*", `${BUCKET_ARN}/a`]))).toBe(true);
      expect(broken(readerWhen("ForAnyValue:StringLike", "arn:aws:s3:::data-*/*"))).toBe(true);
    });

    it("only conditions that name objects of this bucket, on the encryption context key, count", () => {
      expect(broken(readerWhen("StringEquals", ["arn:aws:s3:::other-bucket/a", `${BUCKET_ARN}/a`]))).toBe(true);
      expect(broken(readerWhen("StringEquals", "arn:aws:s3:::other-bucket/a"))).toBe(false);
      expect(broken(readerWhen("StringLike", `${BUCKET_ARN}x/*`))).toBe(false);
      const sourceArn = { ...readerWhen("StringLike", ""), Condition: { StringLike: { "aws:SourceArn": OBJECTS } } };
      expect(broken(sourceArn)).toBe(false);
    });

    it("reads the condition key in any case, and skips a condition block it cannot read", () => {
      const upper = {
        ...readerWhen("StringLike", ""),
        Condition: { StringLike: { [CONTEXT.toUpperCase()]: OBJECTS } },
      };
      expect(broken(upper)).toBe(true);
      const unreadable = { ...readerWhen("StringLike", ""), Condition: { StringLike: null } };
      expect(codes(keyPolicy(ROOT_KEY_STATEMENT, unreadable))).toEqual([]);
    });
  });
});
