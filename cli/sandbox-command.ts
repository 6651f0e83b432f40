import { deployToSandbox, sandboxWorkBucket } from "../local/deploy.ts";
import { rekeyClients } from "../local/sandbox-clients.ts";
import { seedMixedBucket } from "../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../sandbox/admin-client.ts";
import { SANDBOX_CREDENTIALS, type SandboxIdentity } from "../sandbox/config.ts";
import { startSandbox } from "../sandbox/server.ts";
import type { Io } from "./io.ts";

/** What a shell needs to point the aws CLI or an SDK at the sandbox. */
export function sandboxEnvironment(endpoint: string, region: string): string[] {
  return [
    `export AWS_ENDPOINT_URL=${endpoint}`,
    `export AWS_ACCESS_KEY_ID=${SANDBOX_CREDENTIALS.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${SANDBOX_CREDENTIALS.secretAccessKey}`,
    `export AWS_REGION=${region} AWS_DEFAULT_REGION=${region}`,
    "export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=",
  ];
}

/** `rekey sandbox`: serves the emulated AWS APIs, with rekey deployed into them, in the foreground until interrupted. */
export async function sandboxCommand(options: {
  port: number;
  host: string;
  verbose: boolean;
  dataDir?: string | undefined;
}): Promise<void> {
  const sandbox = await startSandbox({
    port: options.port,
    host: options.host,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.verbose
      ? {
          onRequest: (req, res) =>
            process.stderr.write(
              `${res.status} ${req.method} ${req.rawPath}${req.rawQuery ? `?${req.rawQuery}` : ""}\n`,
            ),
        }
      : {}),
  });
  const { region, accountId } = sandbox.identity;
  const port = new URL(sandbox.endpoint).port;
  // As `cdk deploy` would on AWS (runbooks/deploy.md): the rekey CLI then finds the state machine by its name.
  const deployment = await deployToSandbox(rekeyClients(sandbox), sandbox.identity);
  const lines = [
    `rekey sandbox listening on ${sandbox.endpoint} (account ${accountId}, region ${region})`,
    `rekey deployed: ${deployment.stateMachineArn}, work bucket ${deployment.workBucket}`,
    `Console (read-only, in a browser): ${sandbox.endpoint}/_sandbox/console/`,
    "",
    "Point the aws CLI or an AWS SDK at it:",
    ...sandboxEnvironment(sandbox.endpoint, region).map((l) => `  ${l}`),
    "",
    `aws CLI releases older than 2.13 / 1.29 ignore AWS_ENDPOINT_URL: add --endpoint-url ${sandbox.endpoint}.`,
    "SDK clients: S3 needs forcePathStyle: true; S3 Control needs an endpoint without the account-id host prefix.",
    "aws s3control adds the account id to the host; send it through the sandbox as a proxy:",
    `  HTTP_PROXY=${sandbox.endpoint} NO_PROXY= aws s3control list-jobs --account-id ${accountId} --endpoint-url http://sandbox.invalid:${port}`,
    "",
    options.dataDir
      ? `State is kept in ${options.dataDir}; starting again with the same --data-dir restores it. Ctrl-C stops it.`
      : "State is in memory and ends with this process (--data-dir DIR keeps it). Ctrl-C stops it.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await sandbox.close();
}

/** `rekey sandbox seed`: the demo's mix of objects in a bucket of a running sandbox, ready for `rekey start`. */
export async function sandboxSeed(
  options: { endpoint: string; bucket: string; objects: number; env: boolean },
  io: Io,
): Promise<number> {
  const admin = new SandboxAdmin(options.endpoint);
  const health = await admin.request<{ identity: SandboxIdentity }>("GET", "/_sandbox/health");
  const { region } = health.identity;
  const clients = rekeyClients({ endpoint: options.endpoint, identity: health.identity });
  const workBucket = sandboxWorkBucket(health.identity);
  const scenario = await seedMixedBucket(clients, admin, {
    bucket: options.bucket,
    workBucket,
    objects: options.objects,
  });
  if (options.env) {
    io.out.write(
      `export BUCKET=${scenario.bucket} KMS_KEY_ARN=${scenario.targetKeyArn} INVENTORY_ID=${scenario.inventoryConfigurationId}\n`,
    );
    return 0;
  }
  io.out.write(
    [
      `Seeded s3://${scenario.bucket} with ${scenario.keys.length} objects (versioned; inventory configuration "${scenario.inventoryConfigurationId}" delivers to s3://${workBucket}/inventory/).`,
      `Target key:  ${scenario.targetKeyArn}`,
      "Start a run:",
      `  rekey start --endpoint ${options.endpoint} --region ${region} --bucket ${scenario.bucket} --kms-key ${scenario.targetKeyArn} --inventory-config ${scenario.inventoryConfigurationId} --inventory-poll-seconds 5 --job-poll-min-seconds 2 --job-poll-max-seconds 5`,
      "Once it waits for the inventory, deliver one:",
      `  rekey sandbox deliver-inventory --endpoint ${options.endpoint} --bucket ${scenario.bucket} --inventory-config ${scenario.inventoryConfigurationId}`,
      "",
    ].join("\n"),
  );
  return 0;
}

/** `rekey sandbox deliver-inventory`: S3 delivers the bucket's inventory now (on AWS: daily or weekly, the first within 48 h). */
export async function sandboxDeliverInventory(
  options: { endpoint: string; bucket: string; configurationId: string },
  io: Io,
): Promise<number> {
  const delivery = await new SandboxAdmin(options.endpoint).deliverInventory({
    bucket: options.bucket,
    configurationId: options.configurationId,
  });
  io.out.write(
    `Delivered an inventory of ${delivery.rows} rows in ${delivery.dataFiles.length} file(s): s3://${delivery.destinationBucket}/${delivery.manifestKey}\n`,
  );
  return 0;
}
