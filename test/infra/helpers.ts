/** Shared by test/infra: build the stack without bundling, and read its template as plain strings. */
import type { CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { createRekeyApp, OFFLINE_ENV } from "../../infra/rekey-app.ts";
import type { RekeyStack } from "../../infra/rekey-stack.ts";

export const SAMPLE_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
export const OTHER_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";

export interface SynthOptions {
  /** Fields of the configuration file, over the two buckets and two keys below. */
  config?: Record<string, unknown>;
  context?: Record<string, unknown>;
  /** cdk-nag acknowledgements to leave out (see RekeyStackProps.omitNagAcknowledgements). */
  omit?: string[];
  nag?: boolean;
}

/**
 * The stack as the tests see it: bundling skipped (`aws:cdk:bundling-stacks: []`), the offline environment, two
 * buckets (a name and a prefix pattern) and two keys unless the configuration says otherwise.
 */
export function buildStack(options: SynthOptions = {}): { stack: RekeyStack; synth: () => Template } {
  const { app, stack } = createRekeyApp({
    env: OFFLINE_ENV,
    nag: options.nag ?? true,
    // The CLI synth (synth.test.ts) runs aws-cdk-lib's CloudFormation validation; here it would cost seconds per synth.
    cloudFormationValidation: false,
    context: { "aws:cdk:bundling-stacks": [], ...options.context },
    config: {
      buckets: ["example-data-bucket", "data-prod-*"],
      kmsKeyArns: [SAMPLE_KEY_ARN, OTHER_KEY_ARN],
      ...options.config,
    },
    ...(options.omit ? { omitNagAcknowledgements: options.omit } : {}),
  });
  return {
    stack,
    synth: () => {
      // Synthesizing the app runs the validation plugins (cdk-nag); Template.fromStack alone would not.
      app.synth();
      return Template.fromStack(stack);
    },
  };
}

type Cfn = unknown;

/**
 * Renders a CloudFormation value as a string: `Ref AWS::Partition` → `aws`, `Ref X` → `<X>`, `GetAtt X.Arn` →
 * `<X.Arn>`, `Fn::Join` joined. Enough for the values this stack writes.
 */
export function render(value: Cfn): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if ("Ref" in o) {
      const ref = String(o.Ref);
      if (ref === "AWS::Partition") return "aws";
      if (ref === "AWS::Region") return OFFLINE_ENV.region;
      if (ref === "AWS::AccountId") return OFFLINE_ENV.account;
      return `<${ref}>`;
    }
    if ("Fn::GetAtt" in o) {
      const [id, attr] = o["Fn::GetAtt"] as [string, string];
      return `<${id}.${attr}>`;
    }
    if ("Fn::Join" in o) {
      const [sep, parts] = o["Fn::Join"] as [string, Cfn[]];
      return parts.map(render).join(sep);
    }
  }
  throw new Error(`Cannot render ${JSON.stringify(value)}`);
}

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function normalizeStatement(s: Record<string, unknown>): Statement {
  return {
    ...(s as unknown as Statement),
    Action: list(s.Action as string | string[]),
    Resource: list(s.Resource as Cfn).map(render),
  };
}

/** Every statement of the identity policies attached to a role, by the role's logical id. */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources("AWS::IAM::Policy");
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as Cfn[]).some((r) => render(r) === `<${roleLogicalId}>`))
    .flatMap((p) => (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).map(normalizeStatement));
}

/** IAM's wildcard match: `*` matches any run of characters (slashes included), `?` one character. */
export function iamMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(value);
}

/** Whether an Allow statement (ignoring conditions) grants `action` on `resource`. */
export function allows(statements: Statement[], action: string, resource: string): boolean {
  return statements.some(
    (s) =>
      s.Effect === "Allow" &&
      s.Action.some((a) => iamMatch(a, action)) &&
      s.Resource.some((r) => iamMatch(r, resource)),
  );
}

/** The logical id of the one resource of a type whose properties match `where`. */
export function logicalIdOf(template: Template, type: string, where: (props: Record<string, unknown>) => boolean) {
  const found = Object.entries(template.findResources(type)).filter(([, r]) => where(r.Properties ?? {}));
  if (found.length !== 1) throw new Error(`Expected one ${type}, found ${found.length}`);
  return (found[0] as [string, unknown])[0];
}

/**
 * The logical ids of the stack's two state machines and their roles: the rekey state machine, one execution per
 * bucket run, and the fleet state machine, which starts runs of it (infra/constructs/fleet-state-machine.ts).
 */
export function stateMachineIds(stack: RekeyStack): { run: string; runRole: string; fleet: string; fleetRole: string } {
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  return {
    run: id(stack.stateMachine),
    runRole: id(stack.stateMachine.role),
    fleet: id(stack.fleet.stateMachine),
    fleetRole: id(stack.fleet.stateMachine.role),
  };
}
