import { existsSync } from "node:fs";
import { describe, it } from "vitest";
import { describeChangeWindowRehearsal } from "./change-window-rehearsal.ts";

// Debian's aws CLI v2 where it is installed (`apt-get install awscli`), first on the PATH of its own shell.
if (existsSync("/usr/bin/aws")) describeChangeWindowRehearsal({ name: "Debian's aws CLI v2", bin: "v2" });
else
  describe("runbooks/change-window.md with Debian's aws CLI v2", () =>
    it.skip("needs /usr/bin/aws (apt-get install awscli)"));
