import { mkdirSync } from "node:fs";
import { open, type RootDatabase } from "lmdb";
import type { AthenaSandbox } from "../athena/service.ts";
import type { IamAccount } from "../iam/account.ts";
import type { KeyRegistry } from "../kms/keys.ts";
import type { LambdaSandbox } from "../lambda/service.ts";
import type { S3Sandbox } from "../s3/service.ts";
import type { BatchOperationsSandbox } from "../s3control/service.ts";
import type { StepFunctionsSandbox } from "../stepfunctions/service.ts";
import { S3State } from "./s3-state.ts";
import { ServiceState } from "./service-state.ts";

/** The layout of the records; a directory written with another one is refused rather than misread. */
const FORMAT = 1;

/** How often state that changes without a request (jobs, executions, inventory delivery) is written. */
const BACKGROUND_FLUSH_MS = 200;

export interface PersistedServices {
  kms: KeyRegistry;
  iam: IamAccount;
  s3: S3Sandbox;
  batch: BatchOperationsSandbox;
  stepFunctions: StepFunctionsSandbox;
  lambda: LambdaSandbox;
  athena: AthenaSandbox;
}

/**
 * The sandbox's state in a directory, kept in LMDB (an embedded, transactional key-value store): buckets, object
 * versions with their data, multipart uploads, KMS keys, IAM roles, users and policies, Lambda functions with their code, state machines,
 * executions with their histories, Batch Operations jobs with their results, Athena's catalog and workgroups. `flush` writes every change in one
 * synchronous transaction; the server calls it before it answers each request, so an answered write survives a
 * kill. Behaviour after a restart: sandbox/ASSUMPTIONS.md, "Data directory".
 */
export class DataDirectory {
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly services: PersistedServices,
    private readonly s3: S3State,
    private readonly others: ServiceState,
    private readonly jobs: ReturnType<ServiceState["restore"]>,
  ) {
    services.s3.store.observer = (bucket, key) => {
      if (key !== undefined) s3.changed(bucket, key);
    };
    this.timer = setInterval(() => this.flush(), BACKGROUND_FLUSH_MS);
    this.timer.unref();
  }

  /** Opens (or creates) the directory and restores what it holds into services that are still empty. */
  static open(path: string, services: PersistedServices): DataDirectory {
    mkdirSync(path, { recursive: true });
    // No fsync per commit (MDB_NOSYNC, http://www.lmdb.tech/doc/group__mdb__env.html): a committed write is in the
    // kernel's page cache, which outlives a killed process; only a crash of the machine can lose it. A sync per
    // request would make every write of a run wait for the disk.
    const root = open({ path, maxDbs: 16, noSync: true });
    const format = root.get("format");
    if (format === undefined) root.putSync("format", FORMAT);
    else if (format !== FORMAT) {
      void root.close();
      throw new Error(`The sandbox data directory ${path} has format ${String(format)}; this sandbox reads ${FORMAT}.`);
    }
    const s3 = new S3State(services.s3.store, {
      buckets: root.openDB({ name: "s3-buckets" }),
      objects: root.openDB({ name: "s3-objects" }),
      bodies: root.openDB({ name: "s3-object-data", encoding: "binary" }),
      parts: root.openDB({ name: "s3-part-data", encoding: "binary" }),
    });
    const others = new ServiceState(
      {
        kms: services.kms,
        iam: services.iam,
        lambda: services.lambda,
        stepFunctions: services.stepFunctions,
        engine: services.batch.engine,
        athena: services.athena,
      },
      {
        meta: root.openDB({ name: "meta" }),
        functions: root.openDB({ name: "lambda-functions" }),
        jobs: root.openDB({ name: "batch-jobs" }),
        jobResults: root.openDB({ name: "batch-job-results" }),
        jobTasks: root.openDB({ name: "batch-job-tasks" }),
        executions: root.openDB({ name: "sfn-executions" }),
        events: root.openDB({ name: "sfn-history-events" }),
      },
    );
    s3.restore();
    const jobs = others.restore();
    return new DataDirectory(root, services, s3, others, jobs);
  }

  /** Carries on the restored Batch Operations jobs; call once the server listens, as jobs call the S3 API. */
  resumeJobs(): void {
    for (const job of [...this.jobs].sort((a, b) => a.creationTime.getTime() - b.creationTime.getTime())) {
      this.services.batch.engine.resume(job);
    }
    this.jobs.length = 0;
  }

  /** Writes every change since the last flush in one transaction, synchronously. */
  flush(): void {
    if (this.closed) return;
    this.root.transactionSync(() => {
      this.s3.save();
      this.others.save();
    });
  }

  /** Writes what is left and closes the store; later changes (such as the shutdown of running executions) are not kept. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.timer);
    this.services.s3.store.observer = undefined;
    await this.root.close();
  }
}
