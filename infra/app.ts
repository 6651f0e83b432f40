/** The CDK app entry (cdk.json: `npx tsx infra/app.ts`). */
import { createRekeyApp } from "./rekey-app.ts";

const { app } = createRekeyApp({ outdir: process.env.CDK_OUTDIR ?? "cdk.out" });
app.synth();
