import { ArnFormat, Stack } from "aws-cdk-lib";
import { CfnWorkGroup } from "aws-cdk-lib/aws-athena";
import { CfnDatabase } from "aws-cdk-lib/aws-glue";
import { Construct } from "constructs";
import { athenaWorkGroupConfiguration } from "../athena.ts";
import type { WorkBucket } from "./work-bucket.ts";

export interface AthenaWorkGroupProps {
  workBucket: WorkBucket;
  /** The workgroup's per-query cost guard (RekeyConfig.athenaBytesScannedCutoffPerQuery). */
  bytesScannedCutoffPerQuery: number;
}

/**
 * What the `athena` filter engine of "Filter inventory and write manifests" queries in: a Glue database its
 * inventory tables are created in (by the step itself, `CREATE EXTERNAL TABLE IF NOT EXISTS`), and a workgroup
 * whose enforced settings put every result, encrypted, under the work bucket's `athena-results/` and stop any
 * query past the cutoff. Named after the stack, so two stacks in one account and region do not collide: the
 * workgroup as the stack (`[a-zA-Z0-9._-]`, which stack names satisfy), the database in lower case with
 * underscores, as Athena wants database names
 * (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
 */
export class AthenaWorkGroup extends Construct {
  readonly workGroupName: string;
  readonly databaseName: string;
  /** `arn:…:athena:<region>:<account>:workgroup/<name>`: the resource of every query action. */
  readonly workGroupArn: string;
  /** The account's Glue Data Catalog in this region: an ancestor every Glue action is also authorized on. */
  readonly catalogArn: string;
  readonly databaseArn: string;
  /** Every table of the database (`table/<db>/*`): the step names its tables at run time. */
  readonly tablesArn: string;
  /**
   * The `default` database, which Athena reads (and creates if missing) in any query
   * (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
   */
  readonly defaultDatabaseArn: string;

  constructor(scope: Construct, id: string, props: AthenaWorkGroupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.workGroupName = stack.stackName;
    this.databaseName = glueDatabaseName(stack.stackName);

    new CfnDatabase(this, "Database", {
      catalogId: stack.account,
      databaseInput: {
        name: this.databaseName,
        description: "rekey: S3 Inventory tables of the athena filter engine (created by the manifest step)",
      },
    });

    const c = athenaWorkGroupConfiguration({
      workBucket: props.workBucket.bucketName,
      bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
      kmsKeyArn: props.workBucket.encryptionKey?.keyArn,
    });
    new CfnWorkGroup(this, "WorkGroup", {
      name: this.workGroupName,
      description: "rekey: queries of the athena filter engine over S3 Inventory",
      state: "ENABLED",
      // The workgroup holds no evidence (results are in the retained work bucket; query history is kept 45 days
      // anyway): `cdk destroy` deletes it with whatever named queries or notebooks someone added to it.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        resultConfiguration: {
          outputLocation: c.ResultConfiguration.OutputLocation,
          encryptionConfiguration: {
            encryptionOption: c.ResultConfiguration.EncryptionConfiguration.EncryptionOption,
            ...("KmsKey" in c.ResultConfiguration.EncryptionConfiguration
              ? { kmsKey: c.ResultConfiguration.EncryptionConfiguration.KmsKey }
              : {}),
          },
        },
        enforceWorkGroupConfiguration: c.EnforceWorkGroupConfiguration,
        publishCloudWatchMetricsEnabled: c.PublishCloudWatchMetricsEnabled,
        bytesScannedCutoffPerQuery: c.BytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: c.EngineVersion.SelectedEngineVersion },
      },
    });

    this.workGroupArn = stack.formatArn({
      service: "athena",
      resource: "workgroup",
      resourceName: this.workGroupName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const glue = (resource: string, resourceName?: string) =>
      stack.formatArn(
        resourceName
          ? { service: "glue", resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }
          : { service: "glue", resource, arnFormat: ArnFormat.NO_RESOURCE_NAME },
      );
    this.catalogArn = glue("catalog");
    this.databaseArn = glue("database", this.databaseName);
    this.tablesArn = glue("table", `${this.databaseName}/*`);
    this.defaultDatabaseArn = glue("database", "default");
  }
}

/** A stack name (letters, digits, hyphens) as a Glue database name: lower case, hyphens as underscores. */
export function glueDatabaseName(stackName: string): string {
  return stackName.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}
