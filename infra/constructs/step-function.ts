import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { type IRole, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { TaskStateName } from "../../contract/states.ts";
import { STEP_FUNCTIONS, type StepFunctionSpec } from "../../steps/runtime/functions.ts";
import { LOCKFILE, STEP_HANDLERS_ENTRY, StepBundling } from "../step-bundling.ts";

/** One Lambda function per Task state, as steps/runtime/functions.ts specifies them, in the units CDK takes. */
export const StepSpecs = Object.fromEntries(
  Object.entries(STEP_FUNCTIONS).map(([state, spec]) => [
    state,
    { ...spec, timeout: Duration.seconds(spec.timeoutSeconds), memorySize: spec.memoryMiB },
  ]),
) as Record<TaskStateName, StepFunctionSpec & { timeout: Duration; memorySize: number }>;

export interface StepFunctionProps {
  /** The export of steps/runtime/lambda-handlers.ts this function runs, e.g. `validateInputHandler`. */
  handler: string;
  /** What the step does, for the console. */
  description: string;
  environment: Record<string, string>;
  timeout: Duration;
  memorySize: number;
  logRetention: RetentionDays;
}

/**
 * One step of the workflow as a Lambda function: pinned runtime, architecture, bundling and logging, its own log
 * group, and its own role that starts with nothing but permission to write its logs. The stack then grants each
 * step exactly the AWS calls that step makes (infra/constructs/step-permissions.ts).
 */
export class StepFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: IRole;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: StepFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      // Run logs are part of a migration's evidence: they outlive the stack (runbooks/deploy.md says how to delete them).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // An own role instead of the default one, which would carry the AWSLambdaBasicExecutionRole managed policy
    // (logs on every log group of the account).
    const role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `rekey step ${props.handler}: only the calls this step makes`,
    });
    // CreateLogStream + PutLogEvents on this function's log group only (its Arn attribute covers its streams).
    this.logGroup.grantWrite(role);
    this.role = role;

    this.function = new NodejsFunction(this, "Function", {
      entry: STEP_HANDLERS_ENTRY,
      handler: props.handler,
      depsLockFilePath: LOCKFILE,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: {
        ...props.environment,
        NODE_OPTIONS: "--enable-source-maps",
      },
      // The options local/ builds the sandbox's bundle with too (infra/step-bundling.ts), in CDK's terms.
      bundling: {
        format: StepBundling.format === "esm" ? OutputFormat.ESM : OutputFormat.CJS,
        target: StepBundling.aws.target,
        mainFields: [...StepBundling.mainFields],
        banner: StepBundling.banner,
        minify: StepBundling.aws.minify,
        sourceMap: StepBundling.sourceMap,
        sourcesContent: StepBundling.sourcesContent,
        externalModules: [...StepBundling.externalModules],
        // Never Docker: the local esbuild (a pinned devDependency) builds the bundle.
        forceDockerBundling: false,
      },
      // Every step is bundled from the same entry with the same options, so the stack has one code asset.
    });
  }
}

/**
 * One StepFunction per Task state, all with the same environment. Each is named for its handler
 * (`validateInputHandler` → `ValidateInputStep`): the logical IDs of the functions, roles and retained log groups
 * follow from these names, so renaming one replaces that step's resources on the next deployment.
 */
export function createStepFunctions(
  scope: Construct,
  props: { environment: Record<string, string>; logRetention: RetentionDays },
): Record<TaskStateName, StepFunction> {
  const steps = {} as Record<TaskStateName, StepFunction>;
  for (const [state, spec] of Object.entries(StepSpecs) as [TaskStateName, (typeof StepSpecs)[TaskStateName]][]) {
    steps[state] = new StepFunction(scope, pascal(spec.handler.replace(/Handler$/, "Step")), {
      ...spec,
      environment: props.environment,
      logRetention: props.logRetention,
    });
  }
  return steps;
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
