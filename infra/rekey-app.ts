import { App, type Environment, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseRekeyConfig } from "./config.ts";
import { CONFIG_FILE_CONTEXT_KEY, configFilePath, refuseContextSettings, rekeyConfigFromFile } from "./config-file.ts";
import { RekeyStack } from "./rekey-stack.ts";

/** Offline synth (tests, CI, `npm run synth` without credentials) binds the stack to this placeholder environment. */
export const OFFLINE_ENV = { account: "123456789012", region: "us-east-1" } as const;

export interface RekeyAppOptions {
  /** Where the cloud assembly goes; without one, `app.synth()` outside the CLI writes to a temp dir it deletes. */
  outdir?: string;
  /**
   * Extra context, as `-c key=value` would give (tests use it; the CLI passes cdk.json's through the environment).
   * Of rekey's, only `rekey:configFile` (infra/config-file.ts).
   */
  context?: Record<string, unknown>;
  /**
   * Tests only: the configuration as the configuration file would hold it, checked by the same rules; the file is
   * not read then.
   */
  config?: Record<string, unknown>;
  /** Account and region; default: the CLI's (CDK_DEFAULT_ACCOUNT/REGION), else {@link OFFLINE_ENV}. */
  env?: Required<Pick<Environment, "account" | "region">>;
  /** Run cdk-nag's AwsSolutions checks at synth (default true). */
  nag?: boolean;
  /**
   * Run aws-cdk-lib's built-in CloudFormation template validation at synth (default true; `npm run synth` keeps
   * it). Unit tests turn it off: its engine takes seconds to start on every synth.
   */
  cloudFormationValidation?: boolean;
  /** Tests only: cdk-nag acknowledgements to leave out, to prove each one is needed. */
  omitNagAcknowledgements?: string[];
}

/**
 * The rekey CDK app: one RekeyStack, configured from the configuration file (infra/config-file.ts), with cdk-nag as
 * a synth-time validation plugin.
 */
export function createRekeyApp(options: RekeyAppOptions = {}): { app: App; stack: RekeyStack } {
  const app = new App({
    builtinCloudFormationValidation: options.cloudFormationValidation ?? true,
    ...(options.outdir ? { outdir: options.outdir } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const env = options.env ?? {
    account: process.env.CDK_DEFAULT_ACCOUNT ?? OFFLINE_ENV.account,
    region: process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION ?? OFFLINE_ENV.region,
  };
  const file = configFilePath(app.node.tryGetContext(CONFIG_FILE_CONTEXT_KEY));
  refuseContextSettings(app.node.getAllContext(), file);
  const config =
    options.config === undefined
      ? rekeyConfigFromFile(file, env.region)
      : parseRekeyConfig(options.config, env.region, "the configuration given to createRekeyApp");
  const stack = new RekeyStack(app, "Rekey", {
    stackName: config.stackName,
    env,
    description:
      "rekey: re-encrypt existing S3 objects to SSE-KMS with S3 Bucket Keys (one Step Functions execution per bucket)",
    config,
    ...(options.omitNagAcknowledgements ? { omitNagAcknowledgements: options.omitNagAcknowledgements } : {}),
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
