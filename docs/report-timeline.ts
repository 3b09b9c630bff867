// The README's picture of the HTML report (npm run report -- --html FILE): the unit tests' sample
// report (tests/unit/support/sampleReport.ts) rendered by headless Chromium to
// docs/report-timeline.png, the heading and the timeline. tests/unit/report/html.test.ts takes its
// pictures with the same function. Run: node -r ts-node/register/transpile-only docs/report-timeline.ts
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Report } from "../report/classify";
import { renderHtml, timelineViewport } from "../report/html";
import { screenshot } from "../tests/unit/support/chromium";
import { OpenSsl } from "../tests/unit/support/openssl";
import { sampleReport } from "../tests/unit/support/sampleReport";

export const PICTURE = path.join(__dirname, "report-timeline.png");

/** Renders `html` (by default the report's page) in a window that shows the report's heading and timeline, to `pngFile`. */
export async function takeTimelinePicture(report: Report, pngFile: string, html = renderHtml(report)): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-report-html-"));
    try {
        const htmlFile = path.join(dir, "report.html");
        fs.writeFileSync(htmlFile, html);
        await screenshot(htmlFile, pngFile, timelineViewport(report));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const ssl = new OpenSsl();
    takeTimelinePicture(sampleReport(ssl), PICTURE)
        .then(() => console.log(`wrote ${PICTURE}`), (e: Error) => {
            console.error(e.message);
            process.exitCode = 1;
        })
        .finally(() => ssl.remove());
}
