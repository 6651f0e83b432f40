import type { SandboxRequest, SandboxResponse } from "../http.ts";
import type { AwsErrorSpec, FaultService } from "./rules.ts";

/**
 * An injected error in the wire format of the service it stands for, so the real SDK parses it into its modelled
 * exception (and its retry strategy sees a throttling code): S3 and S3 Control REST-XML `<Error>`, KMS and Athena JSON
 * 1.1 and Step Functions JSON 1.0 `__type`, STS query `<ErrorResponse>`, Lambda REST-JSON `x-amzn-errortype`.
 */
export function faultResponse(service: FaultService, e: AwsErrorSpec, req: SandboxRequest): SandboxResponse {
  switch (service) {
    case "s3":
    case "s3control":
      return {
        status: e.status,
        headers: { "content-type": "application/xml" },
        body:
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(e.code)}</Code><Message>${xml(e.message)}</Message>` +
          `${service === "s3" ? `<Resource>${xml(req.rawPath)}</Resource>` : ""}` +
          `<RequestId>${req.requestId}</RequestId><HostId>${req.requestId}</HostId></Error>`,
      };
    case "kms":
    case "states":
    case "athena":
      return {
        status: e.status,
        headers: { "content-type": `application/x-amz-json-${service === "states" ? "1.0" : "1.1"}` },
        body: JSON.stringify({ __type: e.code, message: e.message }),
      };
    case "sts":
      return {
        status: e.status,
        headers: { "content-type": "text/xml" },
        body:
          `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
          `<Error><Type>${e.status >= 500 ? "Receiver" : "Sender"}</Type><Code>${xml(e.code)}</Code>` +
          `<Message>${xml(e.message)}</Message></Error><RequestId>${req.requestId}</RequestId></ErrorResponse>`,
      };
    case "lambda":
      return {
        status: e.status,
        headers: { "content-type": "application/json", "x-amzn-errortype": e.code },
        body: JSON.stringify({ Type: e.status >= 500 ? "Service" : "User", message: e.message }),
      };
  }
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
