// Files the program must not be able to write, for tests that run as root too.
import { execFileSync } from "child_process";
import * as fs from "fs";

/** Whether nothing but the immutable attribute stops this process from writing a file (it runs as root). */
export const RUNS_AS_ROOT = process.getuid?.() === 0;

/**
 * Makes a file or directory unwritable, or writable again. Root writes through file modes, so for
 * root it sets the immutable attribute (which also refuses renaming over the file); throws where
 * the file system has none.
 */
export function setWritable(target: string, writable: boolean): void {
    if (RUNS_AS_ROOT) execFileSync("chattr", [writable ? "-i" : "+i", target], { stdio: "ignore" });
    else fs.chmodSync(target, writable ? 0o755 : 0o555);
}
