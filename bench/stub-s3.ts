/**
 * S3 and S3 Control answered in-process, for driving the real "Filter inventory and write manifests" step in a
 * benchmark: real SDK clients whose commands are answered by a middleware at the start of the stack, so the step's
 * own code (command objects, parsing, HeadObject calls, uploads) runs as it does in Lambda, minus the network.
 * HeadObject answers after `headLatencyMs`, as S3 would from inside its region; GetObject serves the inventory from
 * local files; uploads are accepted and counted (text written with PutObject is kept, to be read back).
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import type { S3ControlClient } from "@aws-sdk/client-s3-control";
import { InvariantViolatedError } from "../contract/errors.ts";
import { createAwsClients } from "../steps/runtime/clients.ts";

export interface StubStats {
  heads: number;
  maxHeadsInFlight: number;
  uploadedBytes: number;
  uploads: number;
}

interface StubOptions {
  region: string;
  /** Keys served as text (manifest.json); a PutObject of a string body stores it here too (the slice summary). */
  texts: Map<string, string>;
  /** Keys served from a local file (data files). */
  files: Map<string, string>;
  headLatencyMs: number;
  /** The KMS key HeadObject names for a key (the target for some, another key for the rest). */
  keyOf: (key: string) => string;
}

const CREDENTIALS = { accessKeyId: "bench", secretAccessKey: "bench" };

function textBody(text: string): Readable & { transformToString: () => Promise<string> } {
  return Object.assign(Readable.from([Buffer.from(text, "utf8")]), { transformToString: async () => text });
}

function notFound(key: string): NoSuchKey {
  return new NoSuchKey({ message: `no ${key}`, $metadata: { httpStatusCode: 404 } });
}

export function stubClients(options: StubOptions): { s3: S3Client; s3control: S3ControlClient; stats: StubStats } {
  const stats: StubStats = { heads: 0, maxHeadsInFlight: 0, uploadedBytes: 0, uploads: 0 };
  let headsInFlight = 0;
  let uploadIds = 0;
  const answer = async (command: string, input: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const key = String(input.Key ?? "");
    switch (command) {
      case "GetObjectCommand": {
        const text = options.texts.get(key);
        if (text !== undefined) return { Body: textBody(text) };
        const file = options.files.get(key);
        if (file !== undefined) return { Body: createReadStream(file, { highWaterMark: 1 << 20 }) };
        throw notFound(key);
      }
      case "HeadObjectCommand": {
        stats.heads += 1;
        headsInFlight += 1;
        stats.maxHeadsInFlight = Math.max(stats.maxHeadsInFlight, headsInFlight);
        await new Promise((resolve) => setTimeout(resolve, options.headLatencyMs));
        headsInFlight -= 1;
        return {
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: options.keyOf(key),
          BucketKeyEnabled: true,
          StorageClass: "STANDARD",
        };
      }
      case "PutObjectCommand":
      case "UploadPartCommand": {
        const body = input.Body;
        const bytes = body instanceof Uint8Array ? body.length : typeof body === "string" ? Buffer.byteLength(body) : 0;
        stats.uploadedBytes += bytes;
        stats.uploads += command === "PutObjectCommand" ? 1 : 0;
        if (command === "PutObjectCommand" && typeof body === "string") options.texts.set(key, body);
        return { ETag: `"${bytes.toString(16)}"` };
      }
      case "CreateMultipartUploadCommand":
        stats.uploads += 1;
        return { UploadId: `upload-${++uploadIds}` };
      case "CompleteMultipartUploadCommand":
        return { ETag: '"multipart-1"' };
      case "AbortMultipartUploadCommand":
        return {};
      case "ListJobsCommand":
        return { Jobs: [] };
      default:
        throw new InvariantViolatedError(`The bench's stub S3 does not answer ${command}.`, {
          fix: "Answer the command in bench/stub-s3.ts, or keep the bench to the filter step.",
        });
    }
  };
  // The clients the step gets in Lambda, configured in the one place they are (steps/runtime/clients.ts).
  const { s3, s3control } = createAwsClients({ region: options.region, credentials: CREDENTIALS, maxAttempts: 1 });
  // Typed loosely: one middleware serves two clients whose command unions differ.
  const stub = (_next: unknown, context: { commandName?: string }) => async (args: { input: unknown }) => ({
    output: {
      $metadata: { httpStatusCode: 200 },
      ...(await answer(context.commandName ?? "", args.input as Record<string, unknown>)),
    },
    response: {},
  });
  const at = { step: "initialize", priority: "high", name: "benchStubS3" } as const;
  s3.middlewareStack.add(stub as never, at);
  s3control.middlewareStack.add(stub as never, at);
  return { s3, s3control, stats };
}
