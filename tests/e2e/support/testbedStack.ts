// A stack of the project on the local testbed, on a private backend of its own, and its removal:
// destroyed (its remote commands' delete hooks), the backend and the project copy deleted.
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

export async function removeTestbedTestStack(s: TestbedTestStack | undefined): Promise<void> {
    if (!s) return;
    await s.stack.destroy().catch(() => undefined);
    s.backend.remove();
    fs.rmSync(s.workspace, { recursive: true, force: true });
}
