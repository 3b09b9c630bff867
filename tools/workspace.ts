// A directory the Pulumi CLI runs this project from, holding its own stack files, so that runs
// against generated inventories (the testbed, tests) never write into the clone. The project's
// files are symlinks to this repository.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";

export const REPO_ROOT = path.resolve(__dirname, "..");
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "components", "node_modules"];

export function createProjectWorkspace(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const name of PROJECT_FILES) {
        const link = path.join(dir, name);
        if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, name), link);
    }
    return dir;
}

/**
 * Writes the stack's config file from a generated one (e.g. the testbed's Pulumi.testbed.yaml),
 * keeping the encryption salt of an earlier run so its secrets still decrypt.
 */
export function writeStackFile(dir: string, stackName: string, configYaml: string): void {
    const file = path.join(dir, `Pulumi.${stackName}.yaml`);
    const salt = fs.existsSync(file) ? fs.readFileSync(file, "utf8").match(/^encryptionsalt: .*$/m)?.[0] : undefined;
    fs.writeFileSync(file, salt ? `${salt}\n${configYaml}` : configYaml);
}

/** The stack, run by the Pulumi CLI with the project's program (the operator's path, not an inline program). */
export function openStack(dir: string, stackName: string, envVars: Record<string, string>): Promise<Stack> {
    return LocalWorkspace.createOrSelectStack({ stackName, workDir: dir }, { envVars });
}
