import type { Behaviours } from "../behaviours.ts";
import type { SourceObjectVersion } from "./generator.ts";
import type { GeneratedManifestEncryption, ManifestTask, TaskOutcome } from "./model.ts";
import type { XmlTree } from "./xml.ts";

/** What the engine needs from S3. The sandbox implements it with a real S3Client; unit tests with a fake. */
export interface BatchBackend {
  /** Throws an error carrying the S3 error code (`name`) and message when the object can't be read. */
  getObject(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ body: Buffer; etag: string; serverSideEncryption?: string }>;
  putObject(bucket: string, key: string, body: string, contentType: string): Promise<void>;
  runTask(operationName: string, spec: XmlTree, task: ManifestTask, behaviours: Behaviours): Promise<TaskOutcome>;
  /**
   * Every version of a bucket with size, storage class and encryption: AWS's internal listing for
   * ManifestGenerator, served by the S3 admin endpoint. Throws (error `name` = code) when the bucket is missing.
   * Without it, jobs with a ManifestGenerator fail in Preparing.
   */
  listVersions?(bucket: string): Promise<SourceObjectVersion[]>;
  /** Writes one generated-manifest object with the given encryption (none: the bucket default); returns its ETag. */
  writeObject?(
    bucket: string,
    key: string,
    body: Buffer,
    contentType: string,
    encryption: GeneratedManifestEncryption | undefined,
  ): Promise<{ etag: string }>;
}
