import type { SandboxIdentity } from "../config.ts";
import type { SandboxRequest, ServiceHandler } from "../http.ts";

/** STS over the query protocol: GetCallerIdentity, which tools call to learn the account id. */
export function stsService(identity: SandboxIdentity): ServiceHandler {
  return async (req: SandboxRequest) => {
    if (req.method !== "POST") return undefined;
    const form = new URLSearchParams(req.body.toString("utf8"));
    const action = form.get("Action");
    if (action === null) return undefined;
    if (action !== "GetCallerIdentity") {
      return xml(
        400,
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>The sandbox does not implement STS ${escapeXml(action)}</Message></Error><RequestId>${req.requestId}</RequestId></ErrorResponse>`,
      );
    }
    return xml(
      200,
      `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
        `<Arn>arn:aws:iam::${identity.accountId}:user/rekey-sandbox</Arn><UserId>AIDASANDBOXREKEY00001</UserId>` +
        `<Account>${identity.accountId}</Account></GetCallerIdentityResult>` +
        `<ResponseMetadata><RequestId>${req.requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  };
}

function xml(status: number, body: string) {
  return { status, headers: { "content-type": "text/xml" }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
