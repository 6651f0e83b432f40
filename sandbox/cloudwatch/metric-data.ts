import { ServiceError } from "../http.ts";
import type { Datapoint } from "./storage-metrics.ts";

/**
 * GetMetricData and ListMetrics over a set of raw data points, as CloudWatch answers them
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html). The wire formats are in
 * service.ts; what is not served is in sandbox/IAM-CLOUDWATCH.md.
 */

export interface Dimension {
  Name: string;
  Value: string;
}

export interface MetricQuery {
  Id: string;
  Label?: string;
  ReturnData?: boolean;
  Expression?: string;
  MetricStat?: {
    Metric: { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] };
    Period: number;
    Stat: string;
    Unit?: string;
  };
}

export interface GetMetricDataInput {
  MetricDataQueries: MetricQuery[];
  StartTime: Date;
  EndTime: Date;
  ScanBy?: string;
  NextToken?: string;
}

export interface MetricDataResult {
  Id: string;
  Label: string;
  Timestamps: Date[];
  Values: number[];
  StatusCode: "Complete";
  Messages: [];
}

export interface ListMetricsInput {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value?: string }[];
  NextToken?: string;
}

export interface Metric {
  Namespace: string;
  MetricName: string;
  Dimensions: Dimension[];
}

const STATISTICS = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"] as const;

export function invalidParameter(message: string): ServiceError {
  return new ServiceError("InvalidParameterValue", 400, message);
}

export function missingParameter(name: string): ServiceError {
  return new ServiceError("MissingParameter", 400, `The parameter ${name} is required.`);
}

export function getMetricData(
  points: readonly Datapoint[],
  input: GetMetricDataInput,
  now: Date,
): {
  MetricDataResults: MetricDataResult[];
  Messages: [];
} {
  const queries = input.MetricDataQueries;
  if (queries.length === 0) throw missingParameter("MetricDataQueries");
  if (queries.length > 500)
    throw invalidParameter("The collection MetricDataQueries must not have a size greater than 500.");
  if (input.NextToken !== undefined) {
    throw new ServiceError(
      "InvalidNextToken",
      400,
      "The sandbox answers every data point in one page; this NextToken is not its own.",
    );
  }
  if (input.StartTime.getTime() >= input.EndTime.getTime()) {
    throw invalidParameter("The parameter StartTime must be less than the parameter EndTime.");
  }
  const ids = new Set<string>();
  for (const [i, q] of queries.entries()) {
    const at = `MetricDataQueries.member.${i + 1}`;
    if (!/^[a-z][a-zA-Z0-9_]*$/.test(q.Id)) {
      throw invalidParameter(
        `The value ${q.Id} for parameter ${at}.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores.`,
      );
    }
    if (ids.has(q.Id)) throw invalidParameter(`The value ${q.Id} for parameter ${at}.Id is not unique.`);
    ids.add(q.Id);
    if ((q.MetricStat === undefined) === (q.Expression === undefined)) {
      throw new ServiceError(
        "InvalidParameterCombination",
        400,
        `Exactly one element of the metricStat or the expression must be set for ${at}.`,
      );
    }
    if (q.Expression !== undefined) {
      throw invalidParameter(
        `${at}.Expression: the sandbox does not evaluate metric math or Metrics Insights queries.`,
      );
    }
    const stat = q.MetricStat;
    if (
      stat &&
      (!Number.isInteger(stat.Period) ||
        stat.Period <= 0 ||
        (stat.Period % 60 !== 0 && ![1, 5, 10, 30].includes(stat.Period)))
    ) {
      throw invalidParameter(
        `The value ${stat.Period} for parameter ${at}.MetricStat.Period must be 1, 5, 10, 30 or a multiple of 60.`,
      );
    }
    if (stat && !(STATISTICS as readonly string[]).includes(stat.Stat)) {
      throw invalidParameter(
        `The value ${stat.Stat} for parameter ${at}.MetricStat.Stat is not a statistic the sandbox computes (${STATISTICS.join(", ")}).`,
      );
    }
  }
  const start = roundStart(input.StartTime, now);
  const descending = (input.ScanBy ?? "TimestampDescending") === "TimestampDescending";
  const results = queries
    .filter((q) => q.ReturnData !== false)
    .map((q): MetricDataResult => {
      const stat = q.MetricStat as NonNullable<MetricQuery["MetricStat"]>;
      const periodMs = stat.Period * 1000;
      const buckets = new Map<number, number[]>();
      for (const p of points) {
        const t = p.timestamp.getTime();
        if (t < start.getTime() || t >= input.EndTime.getTime()) continue;
        if (!sameMetric(p, stat.Metric) || (stat.Unit !== undefined && stat.Unit !== p.unit)) continue;
        const bucket = start.getTime() + Math.floor((t - start.getTime()) / periodMs) * periodMs;
        buckets.set(bucket, [...(buckets.get(bucket) ?? []), p.value]);
      }
      const order = [...buckets.keys()].sort((a, b) => (descending ? b - a : a - b));
      return {
        Id: q.Id,
        Label: q.Label ?? stat.Metric.MetricName ?? q.Id,
        Timestamps: order.map((t) => new Date(t)),
        Values: order.map((t) => statistic(stat.Stat, buckets.get(t) ?? [])),
        StatusCode: "Complete",
        Messages: [],
      };
    });
  return { MetricDataResults: results, Messages: [] };
}

/**
 * CloudWatch rounds StartTime down by its age: to the minute within 15 days, to 5 minutes within 63 days, to the
 * hour beyond (GetMetricData's StartTime documentation); periods are counted from there.
 */
function roundStart(start: Date, now: Date): Date {
  const ageDays = (now.getTime() - start.getTime()) / 86_400_000;
  const step = ageDays <= 15 ? 60_000 : ageDays <= 63 ? 300_000 : 3_600_000;
  return new Date(Math.floor(start.getTime() / step) * step);
}

function statistic(stat: string, values: number[]): number {
  switch (stat) {
    case "Sum":
      return values.reduce((a, b) => a + b, 0);
    case "Minimum":
      return Math.min(...values);
    case "Maximum":
      return Math.max(...values);
    case "SampleCount":
      return values.length;
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

/** A metric is its namespace, name and exact set of dimensions: a query naming fewer dimensions matches nothing. */
function sameMetric(p: Datapoint, m: { Namespace?: string; MetricName?: string; Dimensions?: Dimension[] }): boolean {
  if (p.namespace !== m.Namespace || p.metricName !== m.MetricName) return false;
  const dims = m.Dimensions ?? [];
  const names = Object.keys(p.dimensions);
  return dims.length === names.length && dims.every((d) => p.dimensions[d.Name] === d.Value);
}

/** ListMetrics: the distinct metrics with data, filtered by namespace, name and dimensions (a value is optional). */
export function listMetrics(points: readonly Datapoint[], input: ListMetricsInput): { Metrics: Metric[] } {
  if (input.NextToken !== undefined) {
    throw new ServiceError(
      "InvalidNextToken",
      400,
      "The sandbox lists every metric in one page; this NextToken is not its own.",
    );
  }
  const seen = new Map<string, Metric>();
  for (const p of points) {
    if (input.Namespace !== undefined && p.namespace !== input.Namespace) continue;
    if (input.MetricName !== undefined && p.metricName !== input.MetricName) continue;
    const filters = input.Dimensions ?? [];
    if (!filters.every((f) => f.Name in p.dimensions && (f.Value === undefined || p.dimensions[f.Name] === f.Value)))
      continue;
    const metric: Metric = {
      Namespace: p.namespace,
      MetricName: p.metricName,
      Dimensions: Object.entries(p.dimensions).map(([Name, Value]) => ({ Name, Value })),
    };
    seen.set(JSON.stringify(metric), metric);
  }
  return { Metrics: [...seen.values()] };
}
