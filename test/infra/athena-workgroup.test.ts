/** The Athena workgroup and Glue database the athena filter engine queries in (infra/constructs/athena-workgroup.ts). */
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../contract/states.ts";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { buildStack, logicalIdOf, normalizeStatement, render } from "./helpers.ts";

const GLUE = "arn:aws:glue:us-east-1:123456789012";
const GLUE_CATALOG = `${GLUE}:catalog`;
let template: Template;
let workBucketArn: string;
let queryingRole: string;

beforeAll(() => {
  template = buildStack().synth();
  workBucketArn = `<${logicalIdOf(template, "AWS::S3::Bucket", () => true)}.Arn>`;
  const fn = Object.values(template.findResources("AWS::Lambda::Function")).find(
    (f) => f.Properties.Handler === `index.${StepSpecs[StateNames.sliceInventory].handler}`,
  );
  queryingRole = render(fn?.Properties.Role).replace(/^<(.*)\.Arn>$/, "$1");
});

describe("the Athena workgroup and Glue database of the athena engine", () => {
  it("enforce encrypted results under the work bucket's athena-results/, a 1 TiB cutoff, metrics, engine 3", () => {
    const groups = Object.values(template.findResources("AWS::Athena::WorkGroup"));
    expect(groups).toHaveLength(1);
    const props = groups[0]?.Properties;
    expect(props).toMatchObject({
      Name: "Rekey",
      State: "ENABLED",
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 1024 ** 4,
        EngineVersion: { SelectedEngineVersion: "Athena engine version 3" },
        // The work bucket is SSE-S3 (no KMS key), so the results are too.
        ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: "SSE_S3" } },
      },
    });
    expect(render(props.WorkGroupConfiguration.ResultConfiguration.OutputLocation)).toBe(
      `s3://${workBucketArn.replace(".Arn>", ">")}/athena-results/`,
    );
  });

  it("create the database in this account's catalog, named after the stack in lower case", () => {
    const databases = Object.values(template.findResources("AWS::Glue::Database"));
    expect(databases.map((d) => d.Properties)).toEqual([
      { CatalogId: "123456789012", DatabaseInput: { Name: "rekey", Description: expect.any(String) } },
    ]);
  });

  it("are named in every step function's environment", () => {
    for (const f of Object.values(template.findResources("AWS::Lambda::Function"))) {
      expect(f.Properties.Environment.Variables).toMatchObject({
        REKEY_ATHENA_WORKGROUP: "Rekey",
        REKEY_ATHENA_DATABASE: "rekey",
      });
    }
  });

  it("follow the stack's name and the configured cutoff, and so do the grants", () => {
    const t = buildStack({
      config: { stackName: "Rekey-Prod", athenaBytesScannedCutoffPerQuery: 50_000_000 },
      nag: false,
    }).synth();
    const group = Object.values(t.findResources("AWS::Athena::WorkGroup"))[0]?.Properties;
    expect(group.Name).toBe("Rekey-Prod");
    expect(group.WorkGroupConfiguration.BytesScannedCutoffPerQuery).toBe(50_000_000);
    const database = Object.values(t.findResources("AWS::Glue::Database"))[0]?.Properties;
    expect(database.DatabaseInput.Name).toBe("rekey_prod");
    const resources = Object.values(t.findResources("AWS::IAM::Policy"))
      .flatMap((p) => (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).map(normalizeStatement))
      .filter((st) => st.Action.some((a) => /^(athena|glue):/.test(a)))
      .flatMap((st) => st.Resource);
    expect([...new Set(resources)].sort()).toEqual(
      [
        "arn:aws:athena:us-east-1:123456789012:workgroup/Rekey-Prod",
        GLUE_CATALOG,
        `${GLUE}:database/default`,
        `${GLUE}:database/rekey_prod`,
        `${GLUE}:table/rekey_prod/*`,
      ].sort(),
    );
  });

  it("are used by the step that runs the queries only (Slice the inventory), with no wildcard action anywhere in the stack", () => {
    const policies = Object.values(template.findResources("AWS::IAM::Policy"));
    const withAthenaOrGlue = policies.filter((p) =>
      (p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
        .map(normalizeStatement)
        .some((st) => st.Action.some((a) => /^(athena|glue):/.test(a))),
    );
    expect(withAthenaOrGlue.map((p) => (p.Properties.Roles as unknown[]).map(render))).toEqual([[`<${queryingRole}>`]]);
    const actions = policies.flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).flatMap(
        (st) => normalizeStatement(st).Action,
      ),
    );
    expect(actions.filter((a) => a.includes("*") || a.includes("?"))).toEqual([]);
  });

  it("expire query results from the work bucket after a week", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "athena-results/", ExpirationInDays: 7, Status: "Enabled" }),
        ]),
      },
    });
  });
});
