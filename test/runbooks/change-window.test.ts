import { describe, it } from "vitest";
import { describeChangeWindowRehearsal } from "./change-window-rehearsal.ts";
import { has } from "./rehearse.ts";

// The aws CLI on the PATH (v1 on these machines); change-window-v2.test.ts pastes it with Debian's v2.
if (has("aws")) describeChangeWindowRehearsal({ name: "aws on the PATH", bin: "" });
else describe("runbooks/change-window.md with the aws CLI on the PATH", () => it.skip("needs an aws CLI on the PATH"));
