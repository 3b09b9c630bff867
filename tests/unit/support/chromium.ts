// Headless Chromium (Debian's chromium package, which testbed/install-deps.sh installs) for the
// HTML report: a page rendered to a PNG of a given size, and its DOM as Chromium parsed it. Every
// run has a profile of its own in a temporary directory, so that runs can go in parallel.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";

const CHROMIUM = "chromium";

/**
 * --no-sandbox: the tests run as root, where Chromium refuses its sandbox. --disable-dev-shm-usage:
 * a container's /dev/shm is often 64 MB (Debian's launcher adds it only when /dev/shm is small,
 * and its test of that fails on hosts with more than one tmpfs). One device pixel per CSS pixel,
 * no scrollbars, no network beyond the file.
 */
const FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-sync",
];

function run(args: string[]): Promise<string> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "azs-chromium-"));
    return new Promise<string>((resolve, reject) => {
        execFile(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
            fs.rmSync(profile, { recursive: true, force: true });
            if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") {
                reject(new Error(`${CHROMIUM} is not installed: it comes with Debian's chromium package, which testbed/install-deps.sh installs`));
            } else if (error) {
                reject(new Error(`${CHROMIUM} ${args.join(" ")}: ${error.message}\n${stderr.split("\n").slice(-10).join("\n")}`));
            } else {
                resolve(stdout);
            }
        });
    });
}

/** Renders the page in `htmlFile` in a window of `size` CSS pixels to the PNG `pngFile`. */
export async function screenshot(htmlFile: string, pngFile: string, size: { width: number; height: number }): Promise<void> {
    fs.rmSync(pngFile, { force: true });
    await run([`--screenshot=${pngFile}`, `--window-size=${Math.ceil(size.width)},${Math.ceil(size.height)}`, pathToFileURL(htmlFile).href]);
    if (!fs.existsSync(pngFile)) throw new Error(`${CHROMIUM} wrote no ${pngFile}`);
}

/** The page's DOM serialized after Chromium loaded it. */
export function dumpDom(htmlFile: string): Promise<string> {
    return run(["--dump-dom", pathToFileURL(htmlFile).href]);
}
