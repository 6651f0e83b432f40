import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { type IRole, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { TaskStateName } from "../../contract/states.ts";
import { STEP_FUNCTIONS, type StepFunctionSpec } from "../../steps/runtime/functions.ts";

/** The one Lambda entry for every step: it exports one handler per Task state (steps/runtime/lambda-handlers.ts). */
export const STEP_HANDLERS_ENTRY = fileURLToPath(new URL("../../steps/runtime/lambda-handlers.ts", import.meta.url));
/** The lockfile NodejsFunction needs to find the project root; the bundle is built from the locked versions. */
const LOCKFILE = fileURLToPath(new URL("../../package-lock.json", import.meta.url));

/**
 * Bundled as ESM, which the steps are written as. Some bundled dependencies are CommonJS and `require()` Node
 * built-ins, which an ESM bundle cannot do without a `require` in scope: the banner provides one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __rekeyCreateRequire } from 'node:module'; const require = __rekeyCreateRequire(import.meta.url);";

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
      bundling: {
        format: OutputFormat.ESM,
        target: "node22",
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        // The source map is for stack traces; the sources themselves are in the repository.
        sourcesContent: false,
        // Bundle everything, the AWS SDK included: the deployed steps run the SDK versions package-lock.json pins
        // and the tests ran, not whichever SDK the Lambda runtime ships this month.
        externalModules: [],
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
