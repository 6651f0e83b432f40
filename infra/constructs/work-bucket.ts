import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Effect, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { ATHENA_RESULTS_PREFIX } from "../athena.ts";

/**
 * Where things live in the work bucket (mirrors contract/run-context.ts and steps/aws/candidate-lists.ts;
 * test/infra/work-bucket-layout.test.ts checks the keys the steps build against these grants):
 * - `runs/<bucket>/<execution>/…`: one execution's plan, skipped list, verification, report, summary, failure;
 *   `runs/<bucket>/default-encryption.json` records when default encryption was enforced, and
 *   `runs/<bucket>/lock.json` names the execution running on the bucket;
 * - `plans/<bucket>/<delivery>-<digest>/…`: the copy manifests planned from one inventory delivery and the completion
 *   reports of their jobs, shared by every execution planning from that delivery;
 * - `fleets/<fleet>/…`: a fleet's buckets (buckets.json, written by `rekey fleet start`) and its Map Run's results;
 * - `inventory/…`: the destination prefix the operator gives S3 Inventory;
 * - `athena-results/…`: the Athena workgroup's query results (infra/athena.ts).
 */
export const WorkBucketPrefixes = {
  runs: "runs/",
  plans: "plans/",
  inventory: "inventory/",
  athenaResults: ATHENA_RESULTS_PREFIX,
  /** Batch Operations reads the copy manifests (planKeys().manifest). */
  manifests: "plans/*/manifests/*",
  /** Batch Operations writes completion reports under planKeys().reportsPrefix. */
  reports: "plans/*/batch-reports/*",
  /** The manifest generator writes candidate lists under candidatePrefix() (source: generate). */
  candidates: "runs/*/candidates/*",
  /** A plan's list of the objects it leaves alone (planKeys().skipped), which `rekey report --skipped` prints. */
  skippedLists: "plans/*/skipped.csv",
  /** A plan, written last (planKeys().plan), its large-object list, and its jobs' completion report manifests. */
  planFiles: "plans/*/plan.json",
  largeObjectLists: "plans/*/large-objects.jsonl",
  reportManifests: "plans/*/batch-reports/*/manifest.json",
  /** A run's evidence bundle (cli/evidence-bundle.ts evidencePrefix), written by `rekey evidence`. */
  evidence: "runs/*/evidence/*",
  /** Each bucket's one-run lock (contract/run-context.ts bucketLockKey). */
  locks: "runs/*/lock.json",
  /** The candidate-list jobs a run created (steps/aws/candidate-lists.ts candidateJobsKey). */
  candidateJobs: "runs/*/candidates/jobs.json",
  /**
   * Each slice's part of a plan, its summary and its progress between invocations (planKeys().slice()), deleted once
   * plan.json holds them; and the slices themselves, the Distributed Map's items (planKeys().sliceItems).
   */
  planSlices: "plans/*/slices/*",
  planSliceItems: "plans/*/slices.json",
  /** The Distributed Map's results (planKeys().sliceResults), written by Step Functions itself. */
  planSliceResults: "plans/*/slice-results/*",
  /**
   * What verification's slices leave each other under a run (runKeys().verifyPrefix): the jobs' result files, the
   * slices (the Distributed Map's items, runKeys().reportSliceItems), each slice's progress, failed.csv parts and
   * result; deleted once verification.json holds them.
   */
  verifySlices: "runs/*/verify/*",
  verifySliceItems: "runs/*/verify/slices.json",
  /** The verification Map Run's results (runKeys().reportSliceResults), written by Step Functions itself. */
  verifySliceResults: "runs/*/verify-results/*",
  /** A fleet's buckets (contract/fleet.ts fleetKeys), written by rekey fleet start, read by the fleet's Map Run. */
  fleets: "fleets/",
  fleetItems: "fleets/*/buckets.json",
  /** The fleet Map Run's results, written by Step Functions itself. */
  fleetResults: "fleets/*/results/*",
} as const;

export interface WorkBucketProps {
  /** ARNs of the buckets whose S3 Inventory may deliver here (rekeyTargets().buckets). */
  inventoriedBuckets: string[];
  /** Days after which runs/ and plans/ objects expire. */
  runArtifactExpirationDays: number;
  /** Days after which inventory/ deliveries expire. */
  inventoryExpirationDays: number;
}

/**
 * The bucket a deployment keeps its working files in: inventory deliveries, plans, manifests, completion reports and
 * run reports, under {@link WorkBucketPrefixes}. A Bucket itself rather than a construct holding one, so that its
 * logical ID stays `WorkBucket…`: a new logical ID would make CloudFormation create a second bucket and leave the
 * retained one, with every report in it, behind.
 */
export class WorkBucket extends Bucket {
  /** Every object of one execution's or one bucket's runs (`runs/*`). */
  readonly runObjects: string;
  /** Every plan, manifest and completion report (`plans/*`). */
  readonly planObjects: string;
  /** Every inventory delivery (`inventory/*`). */
  readonly inventoryObjects: string;
  /** Every Athena query result (`athena-results/*`). */
  readonly athenaResultObjects: string;

  constructor(scope: Construct, id: string, props: WorkBucketProps) {
    super(scope, id, {
      versioned: true,
      // SSE-S3, not SSE-KMS: S3 Inventory and Batch Operations write here and Batch Operations reads the
      // manifests (the steps write those with SSE-S3 explicitly: Batch Operations refuses KMS-encrypted CSV
      // manifests); with a KMS key every writer and reader, and the key policy, would need KMS grants too. The
      // bucket holds object keys and run reports, never object data.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Run reports are the evidence of a migration: `cdk destroy` leaves the bucket (runbooks/deploy.md).
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "expire-run-artifacts",
          prefix: WorkBucketPrefixes.runs,
          expiration: Duration.days(props.runArtifactExpirationDays),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          id: "expire-plans",
          prefix: WorkBucketPrefixes.plans,
          expiration: Duration.days(props.runArtifactExpirationDays),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          id: "expire-fleets",
          prefix: WorkBucketPrefixes.fleets,
          expiration: Duration.days(props.runArtifactExpirationDays),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          id: "expire-inventory-deliveries",
          prefix: WorkBucketPrefixes.inventory,
          expiration: Duration.days(props.inventoryExpirationDays),
          noncurrentVersionExpiration: Duration.days(7),
        },
        // The athena engine reads a query's results while its step runs, and nothing reads them later: a week
        // covers any retry of the step, and keeps copies of inventory rows from piling up.
        {
          id: "expire-athena-results",
          prefix: WorkBucketPrefixes.athenaResults,
          expiration: Duration.days(7),
          noncurrentVersionExpiration: Duration.days(1),
        },
        { id: "abort-incomplete-multipart-uploads", abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    this.runObjects = this.arnForObjects(`${WorkBucketPrefixes.runs}*`);
    this.planObjects = this.arnForObjects(`${WorkBucketPrefixes.plans}*`);
    this.inventoryObjects = this.arnForObjects(`${WorkBucketPrefixes.inventory}*`);
    this.athenaResultObjects = this.arnForObjects(`${WorkBucketPrefixes.athenaResults}*`);

    // S3 Inventory delivers with the service principal; AWS's example destination bucket policy
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/configure-inventory.html#configure-inventory-destination-bucket-policy),
    // narrowed to the inventory/ prefix and to the buckets rekey may touch in this account.
    this.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowS3InventoryDelivery",
        effect: Effect.ALLOW,
        principals: [new ServicePrincipal("s3.amazonaws.com")],
        actions: ["s3:PutObject"],
        resources: [this.inventoryObjects],
        conditions: {
          ArnLike: { "aws:SourceArn": props.inventoriedBuckets },
          StringEquals: { "aws:SourceAccount": Stack.of(this).account, "s3:x-amz-acl": "bucket-owner-full-control" },
        },
      }),
    );
  }
}
