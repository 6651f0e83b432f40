/**
 * The direction of imports (ARCHITECTURE.md): cli/, local/, infra/ on top; workflow/ and steps/ below them; contract/
 * at the bottom, importing nothing of the rest. The sandbox is a local AWS: it knows AWS, not rekey. iam-policy/ is AWS's
 * IAM policy language, which rekey's steps and the sandbox's IAM both evaluate: it imports nothing but Node built-ins.
 * Checked by test/architecture/dependencies.test.ts (part of `npm test`) and `npm run deps`.
 */
const PRODUCT = "^(contract|workflow|steps|cli|infra|local)/";
module.exports = {
  forbidden: [
    {
      name: "sandbox-knows-no-rekey",
      comment: "The sandbox is a local AWS; rekey deploys itself into it (local/), never the other way round.",
      severity: "error",
      from: { path: "^sandbox/" },
      to: { path: PRODUCT },
    },
    {
      name: "iam-policy-imports-nothing",
      comment: "AWS's IAM policy language knows nothing of rekey or the sandbox; both import it, never the reverse.",
      severity: "error",
      from: { path: "^iam-policy/" },
      to: { path: "^(contract|workflow|steps|cli|infra|local|sandbox|bench|test)/" },
    },
    {
      name: "iam-policy-uses-only-node",
      comment: "No package either: the evaluator is pure code over Node built-ins.",
      severity: "error",
      from: { path: "^iam-policy/" },
      to: {
        dependencyTypes: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-bundled", "npm-no-pkg", "npm-unknown"],
      },
    },
    {
      name: "contract-imports-nothing",
      comment: "The contract is what every part agrees on; it may import only itself and packages.",
      severity: "error",
      from: { path: "^contract/" },
      to: { path: "^(workflow|steps|cli|infra|local|sandbox|bench|test)/" },
    },
    {
      name: "workflow-imports-only-the-contract",
      severity: "error",
      from: { path: "^workflow/" },
      to: { path: "^(steps|cli|infra|local|sandbox)/" },
    },
    {
      name: "steps-import-down",
      comment: "Steps know the contract and each other's lower layers, not who deploys or drives them.",
      severity: "error",
      from: { path: "^steps/" },
      to: { path: "^(workflow|cli|infra|local|sandbox)/" },
    },
    {
      name: "domain-is-pure",
      comment: "Pure domain code: no handlers, no runtime, no AWS adapters.",
      severity: "error",
      from: { path: "^steps/domain/" },
      to: { path: "^steps/(handlers|runtime|aws)/" },
    },
    {
      name: "adapters-below-handlers",
      severity: "error",
      from: { path: "^steps/(aws|domain)/" },
      to: { path: "^steps/handlers/" },
    },
    {
      name: "one-handler-per-state",
      comment: "A handler does not reach into another state's handler; shared code lives in aws/ or domain/.",
      severity: "error",
      from: { path: "^steps/handlers/([^/]+)\\.ts$" },
      to: { path: "^steps/handlers/", pathNot: "^steps/handlers/$1\\.ts$" },
    },
    {
      name: "cli-uses-no-handler",
      comment: "The CLI reads runs through the contract and the AWS adapters, never through a state's handler.",
      severity: "error",
      from: { path: "^cli/" },
      to: { path: "^steps/handlers/" },
    },
    {
      name: "infra-deploys-no-local",
      severity: "error",
      from: { path: "^infra/" },
      to: { path: "^(cli|local|sandbox)/" },
    },
    {
      name: "product-ignores-tests",
      severity: "error",
      from: { path: "^(contract|workflow|steps|cli|infra|local|sandbox|bench)/" },
      to: { path: "^test/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|cdk\\.out)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
