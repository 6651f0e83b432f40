import { header, type SandboxRequest, type SandboxResponse } from "../http.ts";
import { s3Errors } from "./errors.ts";
import type { Grant, S3Bucket } from "./store.ts";
import { child, escapeXml, list, malformedXml, parseXmlBody, S3_XMLNS, text } from "./xml.ts";

const ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/** The canned ACLs of the S3 API (`x-amz-acl`); `log-delivery-write` applies to buckets only. */
const CANNED = [
  "private",
  "public-read",
  "public-read-write",
  "authenticated-read",
  "aws-exec-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
  "log-delivery-write",
] as const;

/** With Object Ownership "bucket owner enforced" ACLs are disabled; without ownership controls they are enabled. */
export function aclsEnabled(bucket: S3Bucket): boolean {
  return bucket.ownership !== "BucketOwnerEnforced";
}

/**
 * The canned ACL of a write (PutObject, CopyObject, CreateMultipartUpload), default `private`. With ACLs disabled
 * only `private` and `bucket-owner-full-control` are accepted (AccessControlListNotSupported otherwise).
 */
export function aclFromRequest(req: SandboxRequest, bucket: S3Bucket): string {
  const acl = header(req, "x-amz-acl") ?? "private";
  if (!(CANNED as readonly string[]).includes(acl) || acl === "log-delivery-write") {
    throw s3Errors.invalidArgument("The canned ACL is not valid", "x-amz-acl", acl);
  }
  const grantHeaders = Object.keys(req.headers).some((h) => h.startsWith("x-amz-grant-"));
  if (!aclsEnabled(bucket) && (grantHeaders || (acl !== "private" && acl !== "bucket-owner-full-control"))) {
    throw s3Errors.aclNotSupported();
  }
  if (grantHeaders)
    throw s3Errors.notImplemented("The sandbox does not implement x-amz-grant-* headers; use x-amz-acl.");
  return acl;
}

/**
 * Grants of a canned ACL. The sandbox has one account, so the object owner is the bucket owner and the
 * bucket-owner-* ACLs collapse to the owner's FULL_CONTROL.
 */
export function cannedGrants(acl: string, ownerId: string): Grant[] {
  const owner: Grant = { grantee: { type: "CanonicalUser", id: ownerId }, permission: "FULL_CONTROL" };
  const group = (uri: string, permission: Grant["permission"]): Grant => ({
    grantee: { type: "Group", uri },
    permission,
  });
  switch (acl) {
    case "public-read":
      return [owner, group(ALL_USERS, "READ")];
    case "public-read-write":
      return [owner, group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")];
    case "authenticated-read":
      return [owner, group(AUTHENTICATED_USERS, "READ")];
    case "log-delivery-write":
      return [owner, group(LOG_DELIVERY, "WRITE"), group(LOG_DELIVERY, "READ_ACP")];
    default:
      return [owner];
  }
}

/** `<AccessControlPolicy>` with `xsi:type` on each grantee, as S3 writes it. */
export function aclResponse(ownerId: string, grants: Grant[], headers: Record<string, string> = {}): SandboxResponse {
  const xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  const grantXml = grants
    .map((g) => {
      const who =
        g.grantee.type === "CanonicalUser"
          ? `<ID>${escapeXml(g.grantee.id)}</ID>`
          : `<URI>${escapeXml(g.grantee.uri)}</URI>`;
      return `<Grant><Grantee ${xsi} xsi:type="${g.grantee.type}">${who}</Grantee><Permission>${g.permission}</Permission></Grant>`;
    })
    .join("");
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_XMLNS}">` +
    `<Owner><ID>${escapeXml(ownerId)}</ID></Owner><AccessControlList>${grantXml}</AccessControlList></AccessControlPolicy>`;
  return { status: 200, headers: { "content-type": "application/xml", ...headers }, body };
}

export function parseGrants(body: Buffer): Grant[] {
  const root = child(parseXmlBody(body), "AccessControlPolicy");
  const acl = child(root, "AccessControlList");
  if (!root || !acl) throw malformedXml();
  return list(acl, "Grant").map((g): Grant => {
    const grantee = child(g, "Grantee");
    const permission = text(g, "Permission");
    if (
      permission !== "FULL_CONTROL" &&
      permission !== "WRITE" &&
      permission !== "WRITE_ACP" &&
      permission !== "READ" &&
      permission !== "READ_ACP"
    ) {
      throw malformedXml();
    }
    const id = text(grantee, "ID");
    const uri = text(grantee, "URI");
    if (id !== undefined) return { grantee: { type: "CanonicalUser", id }, permission };
    if (uri !== undefined) return { grantee: { type: "Group", uri }, permission };
    throw malformedXml();
  });
}
