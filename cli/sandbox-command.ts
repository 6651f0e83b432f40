import { SANDBOX_CREDENTIALS } from "../sandbox/config.ts";
import { startSandbox } from "../sandbox/server.ts";

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

/** `rekey sandbox`: serves the emulated AWS APIs in the foreground until interrupted. */
export async function sandboxCommand(options: { port: number; host: string; verbose: boolean }): Promise<void> {
  const sandbox = await startSandbox({
    port: options.port,
    host: options.host,
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
  const lines = [
    `rekey sandbox listening on ${sandbox.endpoint} (account ${accountId}, region ${region})`,
    "",
    "Point the aws CLI or an AWS SDK at it:",
    ...sandboxEnvironment(sandbox.endpoint, region).map((l) => `  ${l}`),
    "",
    `aws CLI releases older than 2.13 / 1.29 ignore AWS_ENDPOINT_URL: add --endpoint-url ${sandbox.endpoint}.`,
    "SDK clients: S3 needs forcePathStyle: true; S3 Control needs an endpoint without the account-id host prefix.",
    "aws s3control adds the account id to the host; send it through the sandbox as a proxy:",
    `  HTTP_PROXY=${sandbox.endpoint} NO_PROXY= aws s3control list-jobs --account-id ${accountId} --endpoint-url http://sandbox.invalid:${port}`,
    "",
    "State is in memory and ends with this process. Ctrl-C stops it.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await sandbox.close();
}
