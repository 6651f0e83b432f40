import type { SandboxRequest, SandboxResponse } from "../http.ts";
import { parseBoolean } from "../wire-values.ts";
import { emptyResponse, type S3Context, type S3Target } from "./context.ts";
import { s3Errors } from "./errors.ts";
import { isLocked } from "./lock.ts";
import { readableVersion } from "./objects.ts";
import type { ObjectEncryption } from "./store.ts";
import { child, isRecord, parseXmlBody, text } from "./xml.ts";

/** KMSKeyArn pattern of the S3 model (key ARNs only: no key ids, aliases or alias ARNs). */
const KEY_ARN = /^arn:aws[-a-z0-9]*:kms:([-a-z0-9]*):([0-9]{12}):key\/.+$/;

const MESSAGES = {
  targetType:
    "Requests that modify an object encryption configuration require a valid new encryption type. Valid values are SSEKMS. Modify the request to specify SSE-KMS for the updated encryption type, and then try again.",
  targetDsseOrSsec:
    "The UpdateObjectEncryption operation doesn't support updating the encryption type to DSSE-KMS or SSE-C. Modify the request to specify SSE-KMS for the updated encryption type, and then try again.",
  keyMissing:
    "Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon Resource Name (ARN). Modify the request to specify a KMS key ARN, and then try again.",
  keyInvalid:
    "Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS key Amazon Resource Name (ARN). Confirm that you have a correctly formatted KMS key ARN in your request, and then try again.",
  bucketKey:
    "The BucketKeyEnabled value isn't valid. Valid values are true or false. Modify the request to specify a valid value, and then try again.",
  sourceNotSse:
    "The UpdateObjectEncryption operation doesn't supported unencrypted source objects. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.",
  sourceDsseOrSsec:
    "The UpdateObjectEncryption operation doesn't support source objects with the encryption type DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.",
  keyAccount:
    "The AWS KMS key in the request must be owned by the same account as the bucket. Modify the request to specify a KMS key from the same account, and then try again.",
  objectLock:
    "The encryption type for the specified object can’t be updated because that object is protected by S3 Object Lock. If the object has a governance-mode retention period or a legal hold, you must first remove the Object Lock status on the object before you issue your UpdateObjectEncryption request. You can't use the UpdateObjectEncryption operation with objects that have an Object Lock compliance mode retention period applied to them.",
};

/** The requested target from `<ObjectEncryption><SSE-KMS><KMSKeyArn/><BucketKeyEnabled/></SSE-KMS></ObjectEncryption>`. */
function parseTarget(body: Buffer): { keyArn: string; bucketKeyEnabled: boolean } {
  if (body.length === 0) throw s3Errors.invalidRequest(MESSAGES.targetType);
  const root = child(parseXmlBody(body), "ObjectEncryption");
  if (!root) throw s3Errors.invalidRequest(MESSAGES.targetType);
  const sseKms = child(root, "SSE-KMS");
  if (!sseKms) {
    const named = Object.keys(root).some((k) => /DSSE|SSE-?C/i.test(k));
    throw s3Errors.invalidRequest(named ? MESSAGES.targetDsseOrSsec : MESSAGES.targetType);
  }
  const keyArn = text(sseKms, "KMSKeyArn");
  if (keyArn === undefined || keyArn === "") throw s3Errors.invalidRequest(MESSAGES.keyMissing);
  if (!KEY_ARN.test(keyArn)) throw s3Errors.invalidRequest(MESSAGES.keyInvalid);
  const rawBucketKey = isRecord(sseKms) ? text(sseKms, "BucketKeyEnabled") : undefined;
  const bucketKeyEnabled = parseBoolean(rawBucketKey, () => s3Errors.invalidRequest(MESSAGES.bucketKey)) ?? false;
  return { keyArn, bucketKeyEnabled };
}

/**
 * UpdateObjectEncryption (`PUT /key?encryption[&versionId=]`): re-encrypts an SSE-S3 or SSE-KMS object version to
 * SSE-KMS under the given key ARN without touching its data or attributes (storage class, LastModified, ETag,
 * checksum, metadata, tags, ACL, Object Lock state). Archived objects need no restore. Checks, in order: the
 * request body, the object (NoSuchKey / NoSuchVersion; delete markers as for GET), the source encryption, Object
 * Lock, the key's account, then the key itself (same errors as SSE-KMS writes). Answers 200 with no body.
 */
export function updateObjectEncryption(ctx: S3Context, req: SandboxRequest, t: S3Target): SandboxResponse {
  const target = parseTarget(req.body);
  const { bucket, version } = readableVersion(ctx, req, t);
  const source = version.encryption.type;
  if (source === "NOT-SSE") throw s3Errors.invalidRequest(MESSAGES.sourceNotSse);
  if (source === "DSSE-KMS" || source === "SSE-C") throw s3Errors.invalidRequest(MESSAGES.sourceDsseOrSsec);
  if (isLocked(version)) throw s3Errors.accessDenied(MESSAGES.objectLock);
  const account = KEY_ARN.exec(target.keyArn)?.[2];
  if (account !== ctx.identity.accountId) throw s3Errors.accessDenied(MESSAGES.keyAccount);
  const encryption: ObjectEncryption = {
    type: "SSE-KMS",
    keyArn: ctx.encryption.resolveKey(target.keyArn),
    bucketKeyEnabled: target.bucketKeyEnabled,
  };
  const isCurrent = bucket.latest(t.key) === version;
  // Whether a new version is written is not documented: the switch in sandbox/behaviours.ts decides.
  if (ctx.behaviours.updateObjectEncryptionCreatesVersion && bucket.versioning === "Enabled" && isCurrent) {
    const { versionId: _old, isDeleteMarker: _marker, ...draft } = version;
    ctx.store.writeObject(bucket.name, { ...draft, encryption });
  } else {
    version.encryption = encryption;
    ctx.store.lastWriteAt = Date.now();
  }
  return emptyResponse(200);
}
