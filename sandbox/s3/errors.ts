import { ServiceError } from "../http.ts";

/**
 * S3's documented error codes, statuses and messages (S3 API reference, "Error responses"), with the
 * extra elements S3 adds to the `<Error>` body (BucketName, Key, VersionId, ...). Headers an error
 * response carries (x-amz-delete-marker) travel in `S3Error.headers`.
 */
export class S3Error extends ServiceError {
  constructor(
    code: string,
    status: number,
    message: string,
    extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(code, status, message, extra);
    this.name = "S3Error";
  }
}

export const s3Errors = {
  noSuchBucket: (bucket: string) =>
    new S3Error("NoSuchBucket", 404, "The specified bucket does not exist", { BucketName: bucket }),
  noSuchKey: (key: string, headers: Record<string, string> = {}) =>
    new S3Error("NoSuchKey", 404, "The specified key does not exist.", { Key: key }, headers),
  noSuchVersion: (key: string, versionId: string) =>
    new S3Error("NoSuchVersion", 404, "The specified version does not exist.", { Key: key, VersionId: versionId }),
  invalidBucketName: (bucket: string) =>
    new S3Error("InvalidBucketName", 400, "The specified bucket is not valid.", { BucketName: bucket }),
  bucketAlreadyOwnedByYou: (bucket: string) =>
    new S3Error(
      "BucketAlreadyOwnedByYou",
      409,
      "Your previous request to create the named bucket succeeded and you already own it.",
      { BucketName: bucket },
    ),
  bucketNotEmpty: (bucket: string) =>
    new S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty", { BucketName: bucket }),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Error("InvalidArgument", 400, message, {
      ...(name !== undefined ? { ArgumentName: name } : {}),
      ...(value !== undefined ? { ArgumentValue: value } : {}),
    }),
  invalidRequest: (message: string) => new S3Error("InvalidRequest", 400, message),
  methodNotAllowedOnDeleteMarker: (method: string, headers: Record<string, string>) =>
    new S3Error(
      "MethodNotAllowed",
      405,
      "The specified method is not allowed against this resource.",
      { Method: method, ResourceType: "DeleteMarker" },
      headers,
    ),
  preconditionFailed: (condition: string) =>
    new S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold", {
      Condition: condition,
    }),
  invalidObjectState: (storageClass: string, accessTier?: string) =>
    new S3Error("InvalidObjectState", 403, "The operation is not valid for the object's storage class", {
      StorageClass: storageClass,
      ...(accessTier ? { AccessTier: accessTier } : {}),
    }),
  invalidCopySourceState: (storageClass: string) =>
    new S3Error("InvalidObjectState", 403, "Operation is not valid for the source object's storage class", {
      StorageClass: storageClass,
    }),
  invalidStorageClass: (value: string) =>
    new S3Error("InvalidStorageClass", 400, "The storage class you specified is not valid", {
      StorageClassRequested: value,
    }),
  badDigest: (expected: string, calculated: string) =>
    new S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.", {
      ExpectedDigest: expected,
      CalculatedDigest: calculated,
    }),
  badChecksum: (algorithm: string) =>
    new S3Error("BadDigest", 400, `The ${algorithm} you specified did not match the calculated checksum.`),
  invalidDigest: (value: string) =>
    new S3Error("InvalidDigest", 400, "The Content-MD5 you specified is not valid.", { "Content-MD5": value }),
  invalidRange: (range: string, size: number) =>
    new S3Error("InvalidRange", 416, "The requested range is not satisfiable", {
      RangeRequested: range,
      ActualObjectSize: String(size),
    }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      "NoSuchUpload",
      404,
      "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      { UploadId: uploadId },
    ),
  invalidPart: (partNumber: number, etag: string) =>
    new S3Error(
      "InvalidPart",
      400,
      "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
      { PartNumber: String(partNumber), ETag: etag },
    ),
  invalidPartOrder: () =>
    new S3Error(
      "InvalidPartOrder",
      400,
      "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
    ),
  entityTooSmall: (size: number, partNumber: number, etag: string) =>
    new S3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.", {
      ProposedSize: String(size),
      MinSizeAllowed: String(5 * 1024 * 1024),
      PartNumber: String(partNumber),
      ETag: etag,
    }),
  entityTooLarge: (size: number, max: number) =>
    new S3Error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size", {
      ProposedSize: String(size),
      MaxSizeAllowed: String(max),
    }),
  invalidTag: (message: string) => new S3Error("InvalidTag", 400, message),
  tooManyTags: () => new S3Error("BadRequest", 400, "Object tags cannot be greater than 10"),
  noSuchConfiguration: () => new S3Error("NoSuchConfiguration", 404, "The specified configuration does not exist."),
  sseConfigurationNotFound: (bucket: string) =>
    new S3Error(
      "ServerSideEncryptionConfigurationNotFoundError",
      404,
      "The server side encryption configuration was not found",
      { BucketName: bucket },
    ),
  sseCustomerKeyRequired: () =>
    new S3Error(
      "InvalidRequest",
      400,
      "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    ),
  sseCustomerKeyMismatch: () =>
    new S3Error(
      "AccessDenied",
      403,
      "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
    ),
  notImplemented: (message: string) => new S3Error("NotImplemented", 501, message),
  accessDenied: (message: string) => new S3Error("AccessDenied", 403, message),
  /** Deleting (or overwriting the lock of) a version that Object Lock protects. */
  objectLocked: () => new S3Error("AccessDenied", 403, "Access Denied because object protected by object lock."),
  aclNotSupported: () => new S3Error("AccessControlListNotSupported", 400, "The bucket does not allow ACLs"),
  bucketMissingObjectLock: () => new S3Error("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"),
  noSuchObjectLockConfiguration: () =>
    new S3Error("NoSuchObjectLockConfiguration", 404, "The specified object does not have a ObjectLock configuration"),
  invalidBucketState: (message: string) => new S3Error("InvalidBucketState", 409, message),
  notConfigured: (code: string, bucket: string, message: string) =>
    new S3Error(code, 404, message, { BucketName: bucket }),
};
