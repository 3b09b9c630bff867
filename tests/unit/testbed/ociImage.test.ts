// testbed/lib/oci-image: the image archives the static-pod masters import into containerd. The
// archive is an OCI image layout whose index names the image, its manifest's digests match the
// blobs, the layer holds the binary at /usr/local/bin, and the same input gives the same bytes.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const OCI_IMAGE = path.resolve(__dirname, "../../../testbed/lib/oci-image");

describe("testbed oci-image: an OCI archive made from a binary", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-oci-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const make = (out: string) => execFileSync(OCI_IMAGE, [path.join(dir, out), "azs-testbed.local/tool:v1", "/usr/local/bin/tool", path.join(dir, "tool")]);
    const readBlob = (unpacked: string, digest: string) => fs.readFileSync(path.join(unpacked, "blobs", "sha256", digest.replace("sha256:", "")));

    it("names the image, its digests match its blobs, its layer holds the binary; the same input gives the same bytes", () => {
        fs.writeFileSync(path.join(dir, "tool"), "#!/bin/sh\necho tool\n", { mode: 0o755 });
        make("a.tar");
        make("b.tar");
        assert.ok(fs.readFileSync(path.join(dir, "a.tar")).equals(fs.readFileSync(path.join(dir, "b.tar"))), "reproducible");

        const unpacked = path.join(dir, "a");
        fs.mkdirSync(unpacked);
        execFileSync("tar", ["-xf", path.join(dir, "a.tar"), "-C", unpacked]);
        const index = JSON.parse(fs.readFileSync(path.join(unpacked, "index.json"), "utf8")) as { manifests: { digest: string; annotations: Record<string, string> }[] };
        assert.equal(index.manifests.length, 1);
        assert.equal(index.manifests[0]!.annotations["io.containerd.image.name"], "azs-testbed.local/tool:v1");
        assert.equal(index.manifests[0]!.annotations["org.opencontainers.image.ref.name"], "v1");
        const manifestBytes = readBlob(unpacked, index.manifests[0]!.digest);
        assert.equal(`sha256:${createHash("sha256").update(manifestBytes).digest("hex")}`, index.manifests[0]!.digest);
        const manifest = JSON.parse(manifestBytes.toString("utf8")) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
        for (const d of [manifest.config, ...manifest.layers]) {
            const blob = readBlob(unpacked, d.digest);
            assert.equal(blob.length, d.size);
            assert.equal(`sha256:${createHash("sha256").update(blob).digest("hex")}`, d.digest);
        }
        const config = JSON.parse(readBlob(unpacked, manifest.config.digest).toString("utf8")) as { config: { Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
        assert.deepEqual(config.config.Entrypoint, ["/usr/local/bin/tool"]);
        assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0]!.digest], "an uncompressed layer: its diff id is its digest");
        const listing = execFileSync("tar", ["-tvf", path.join(unpacked, "blobs", "sha256", manifest.layers[0]!.digest.replace("sha256:", ""))], { encoding: "utf8" });
        assert.match(listing, /^-rwxr-xr-x 0\/0 .* usr\/local\/bin\/tool$/m);
    });

    it("refuses to make an image of no files", () => {
        assert.throws(() => execFileSync(OCI_IMAGE, [path.join(dir, "c.tar"), "x:1", "/x"], { stdio: "pipe" }), /no files/);
    });
});
