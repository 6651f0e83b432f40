import type { SandboxRequest } from "../http.ts";

const API_PREFIX = "/2015-03-31/functions";

/** The Lambda API operation of a REST-JSON request (`Invoke`, `GetFunction`, ...), as `service.ts` routes it. */
export function lambdaOperationName(req: SandboxRequest): string {
  if (req.rawPath !== API_PREFIX && !req.rawPath.startsWith(`${API_PREFIX}/`)) return "Unknown";
  const [name = "", sub = ""] = req.rawPath.slice(API_PREFIX.length).replace(/^\//, "").split("/");
  if (name === "") return req.method === "POST" ? "CreateFunction" : req.method === "GET" ? "ListFunctions" : "Unknown";
  const routes: Record<string, string> = {
    "POST invocations": "Invoke",
    "GET ": "GetFunction",
    "GET configuration": "GetFunctionConfiguration",
    "PUT configuration": "UpdateFunctionConfiguration",
    "PUT code": "UpdateFunctionCode",
    "DELETE ": "DeleteFunction",
  };
  return routes[`${req.method} ${sub}`] ?? "Unknown";
}
