import type { Behaviours } from "../behaviours.ts";
import type { SandboxIdentity } from "../config.ts";
import { header, type SandboxRequest, type SandboxResponse, ServiceError, type ServiceHandler } from "../http.ts";
import { parseQueryForm, QueryInput, queryError, queryResponse, type XmlValue } from "../query-protocol.ts";
import type { S3Store } from "../s3/store.ts";
import {
  type GetMetricDataInput,
  getMetricData,
  invalidParameter,
  type ListMetricsInput,
  listMetrics,
  type MetricQuery,
  missingParameter,
} from "./metric-data.ts";
import { type Datapoint, storageDatapoints } from "./storage-metrics.ts";

const TARGET_PREFIX = "GraniteServiceVersion20100801.";
const NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/**
 * CloudWatch's GetMetricData and ListMetrics over S3's daily storage metrics (sandbox/IAM-CLOUDWATCH.md), in the two
 * protocols its clients send: JSON 1.0 (`x-amz-target: GraniteServiceVersion20100801.<Operation>`, the SDK v3 and
 * aws CLI v1) and the query protocol (aws CLI v2 before CloudWatch's move to JSON). Requests signed for another
 * region see no metrics, as each region has its own.
 */
export function cloudWatchService(deps: {
  identity: SandboxIdentity;
  store: S3Store;
  behaviours: Behaviours;
  now?: () => Date;
}): ServiceHandler {
  const now = deps.now ?? (() => new Date());
  const points = (req: SandboxRequest, at: Date): Datapoint[] =>
    signingRegion(req) === deps.identity.region ? storageDatapoints(deps.store, deps.behaviours, at) : [];
  return async (req) => {
    if (req.method !== "POST") return undefined;
    const target = header(req, "x-amz-target");
    if (target?.startsWith(TARGET_PREFIX)) return json(req, target.slice(TARGET_PREFIX.length));
    if ((header(req, "content-type") ?? "").includes("x-www-form-urlencoded")) return query(req);
    return undefined;
  };

  function json(req: SandboxRequest, operation: string): SandboxResponse {
    try {
      const body = req.body.length ? (JSON.parse(req.body.toString("utf8")) as unknown) : {};
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw invalidParameter("The request body is not a JSON object.");
      const input = body as Record<string, unknown>;
      const at = now();
      switch (operation) {
        case "GetMetricData": {
          const out = getMetricData(points(req, at), getMetricDataFromJson(input), at);
          return jsonResponse(200, {
            ...out,
            MetricDataResults: out.MetricDataResults.map((r) => ({ ...r, Timestamps: r.Timestamps.map(epochSeconds) })),
          });
        }
        case "ListMetrics":
          return jsonResponse(200, listMetrics(points(req, at), listMetricsFromJson(input)));
        default:
          throw new ServiceError(
            "UnknownOperationException",
            400,
            `The sandbox does not implement CloudWatch ${operation}.`,
          );
      }
    } catch (err) {
      if (err instanceof SyntaxError)
        return jsonError(new ServiceError("SerializationException", 400, "The request body is not JSON."));
      if (err instanceof ServiceError) return jsonError(err);
      throw err;
    }
  }

  function query(req: SandboxRequest): SandboxResponse | undefined {
    const members = parseQueryForm(req.body);
    const action = typeof members.Action === "string" ? members.Action : undefined;
    if (action === undefined) return undefined;
    const input = new QueryInput(members, (member, problem, value) =>
      problem === "missing"
        ? missingParameter(member)
        : invalidParameter(`The value ${value ?? ""} for parameter ${member} is not valid.`),
    );
    try {
      const at = now();
      switch (action) {
        case "GetMetricData": {
          const out = getMetricData(points(req, at), getMetricDataFromQuery(input), at);
          return queryResponse(NAMESPACE, action, req.requestId, out as unknown as Record<string, XmlValue>);
        }
        case "ListMetrics":
          return queryResponse(
            NAMESPACE,
            action,
            req.requestId,
            listMetrics(points(req, at), listMetricsFromQuery(input)) as unknown as Record<string, XmlValue>,
          );
        default:
          throw new ServiceError("InvalidAction", 400, `The sandbox does not implement CloudWatch ${action}.`);
      }
    } catch (err) {
      if (err instanceof ServiceError) return queryError(NAMESPACE, err.status, err.code, err.message, req.requestId);
      throw err;
    }
  }
}

/** The region of the request's SigV4 credential scope; the sandbox's own when unsigned. */
function signingRegion(req: SandboxRequest): string | undefined {
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(header(req, "authorization") ?? "");
  return scope?.[1];
}

function epochSeconds(d: Date): number {
  return d.getTime() / 1000;
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { "content-type": "application/x-amz-json-1.0", ...headers }, body: JSON.stringify(body) };
}

/**
 * CloudWatch is query-compatible: a JSON error carries the shape name in `__type` and the query protocol's code in
 * `x-amzn-query-error` (`Code;Sender`), which the SDK and botocore report as the error's code.
 */
const SHAPES: Record<string, string> = {
  InvalidParameterValue: "InvalidParameterValueException",
  MissingParameter: "MissingRequiredParameterException",
  InvalidParameterCombination: "InvalidParameterCombinationException",
  InvalidNextToken: "InvalidNextToken",
};

function jsonError(e: ServiceError): SandboxResponse {
  const shape = SHAPES[e.code] ?? e.code;
  return jsonResponse(
    e.status,
    { __type: `com.amazonaws.cloudwatch#${shape}`, message: e.message },
    { "x-amzn-query-error": `${e.code};${e.status >= 500 ? "Receiver" : "Sender"}` },
  );
}

function timestampFromJson(v: unknown, name: string): Date {
  if (v === undefined) throw missingParameter(name);
  const t = typeof v === "number" ? v * 1000 : typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw invalidParameter(`The value ${String(v)} for parameter ${name} is not a timestamp.`);
  return new Date(t);
}

function getMetricDataFromJson(input: Record<string, unknown>): GetMetricDataInput {
  const queries = input.MetricDataQueries;
  if (queries === undefined) throw missingParameter("MetricDataQueries");
  if (!Array.isArray(queries)) throw invalidParameter("MetricDataQueries must be a list.");
  return {
    MetricDataQueries: queries.map((q, i) => {
      if (typeof q !== "object" || q === null)
        throw invalidParameter(`MetricDataQueries.member.${i + 1} must be a structure.`);
      const query = q as MetricQuery;
      if (typeof query.Id !== "string") throw missingParameter(`MetricDataQueries.member.${i + 1}.Id`);
      return query;
    }),
    StartTime: timestampFromJson(input.StartTime, "StartTime"),
    EndTime: timestampFromJson(input.EndTime, "EndTime"),
    ...(typeof input.ScanBy === "string" ? { ScanBy: input.ScanBy } : {}),
    ...(typeof input.NextToken === "string" ? { NextToken: input.NextToken } : {}),
  };
}

function listMetricsFromJson(input: Record<string, unknown>): ListMetricsInput {
  return input as ListMetricsInput;
}

function getMetricDataFromQuery(input: QueryInput): GetMetricDataInput {
  const queries = input.list("MetricDataQueries");
  if (queries === undefined) throw missingParameter("MetricDataQueries");
  const required = (name: string, d: Date | undefined) => {
    if (d === undefined) throw missingParameter(name);
    return d;
  };
  return {
    MetricDataQueries: queries.map((q): MetricQuery => {
      const stat = q.struct("MetricStat");
      const metric = stat?.struct("Metric");
      return {
        Id: q.required("Id"),
        ...optional("Label", q.string("Label")),
        ...optional("ReturnData", q.boolean("ReturnData")),
        ...optional("Expression", q.string("Expression")),
        ...(stat
          ? {
              MetricStat: {
                Metric: {
                  ...optional("Namespace", metric?.string("Namespace")),
                  ...optional("MetricName", metric?.string("MetricName")),
                  Dimensions: (metric?.list("Dimensions") ?? []).map((d) => ({
                    Name: d.required("Name"),
                    Value: d.required("Value"),
                  })),
                },
                Period: stat.integer("Period") ?? Number.NaN,
                Stat: stat.required("Stat"),
                ...optional("Unit", stat.string("Unit")),
              },
            }
          : {}),
      };
    }),
    StartTime: required("StartTime", input.timestamp("StartTime")),
    EndTime: required("EndTime", input.timestamp("EndTime")),
    ...optional("ScanBy", input.string("ScanBy")),
    ...optional("NextToken", input.string("NextToken")),
  };
}

function listMetricsFromQuery(input: QueryInput): ListMetricsInput {
  return {
    ...optional("Namespace", input.string("Namespace")),
    ...optional("MetricName", input.string("MetricName")),
    ...optional(
      "Dimensions",
      input.list("Dimensions")?.map((d) => ({ Name: d.required("Name"), ...optional("Value", d.string("Value")) })),
    ),
    ...optional("NextToken", input.string("NextToken")),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
