// A stack of the project on the local testbed, on a private backend of its own, and its removal:
// the backend and the project copy deleted. Not destroyed: the program's resources have no delete
// hooks (commands without a delete command, patches retained on delete), so a destroy would change
// nothing on the testbed, which the tests take down after their stack anyway; it cost minutes of CI.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { openTestbedStack } from "../../../testbed/harness/workspace";
import { createTestBackend, TestBackend } from "./engine";
import { TESTBED_STATE } from "./testbed";

export interface TestbedTestStack {
    stack: Stack;
    backend: TestBackend;
    workspace: string;
}

export async function openTestbedTestStack(prefix: string, stackName: string): Promise<TestbedTestStack> {
    const backend = createTestBackend(prefix);
    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-project-`));
    return { stack: await openTestbedStack(workspace, stackName, TESTBED_STATE, backend.envVars), backend, workspace };
}

export function removeTestbedTestStack(s: TestbedTestStack | undefined): void {
    if (!s) return;
    s.backend.remove();
    fs.rmSync(s.workspace, { recursive: true, force: true });
}
