// Test certificates made at test time with openssl (never committed), in a temporary directory.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Pem {
    cert: string;
    key: string;
}

export type KeyType = "rsa2048" | "rsa1024" | "p256" | "p224";

const KEY_ARGS: Record<KeyType, string[]> = {
    rsa2048: ["-newkey", "rsa:2048"],
    rsa1024: ["-newkey", "rsa:1024"],
    p256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    p224: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-224"],
};

export class OpenSsl {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "azs-pki-unit-"));
    private n = 0;
    private readonly cnf: string;

    constructor() {
        // A config of our own: no default extensions (the system openssl.cnf adds CA:TRUE to every -x509).
        this.cnf = path.join(this.dir, "req.cnf");
        fs.writeFileSync(this.cnf, "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n");
    }

    private file(ext: string): string {
        return path.join(this.dir, `f${++this.n}.${ext}`);
    }

    run(args: string[], input?: string): string {
        return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    }

    /** A self-signed certificate with exactly the given extensions. */
    selfSigned(opts: { cn: string; days: number; key?: KeyType; ext: string[] }): Pem {
        const keyFile = this.file("key");
        const certFile = this.file("crt");
        this.run([
            "req", "-x509", "-nodes", ...KEY_ARGS[opts.key ?? "p256"], "-keyout", keyFile, "-out", certFile,
            "-days", String(opts.days), "-subj", `/CN=${opts.cn}`, "-config", this.cnf,
            ...opts.ext.flatMap((e) => ["-addext", e]),
        ]);
        return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") };
    }

    ca(opts: { cn?: string; days?: number; key?: KeyType } = {}): Pem {
        return this.selfSigned({
            cn: opts.cn ?? "test-ca",
            days: opts.days ?? 3650,
            key: opts.key,
            ext: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "subjectKeyIdentifier=hash"],
        });
    }

    /** A leaf signed by `ca`, with SANs and usages as the product issues them. */
    leaf(ca: Pem, opts: { subj: string; days: number; ext: string[] }): Pem {
        const keyFile = this.file("key");
        const csrFile = this.file("csr");
        const certFile = this.file("crt");
        const extFile = this.file("ext");
        const caCert = this.file("crt");
        const caKey = this.file("key");
        fs.writeFileSync(caCert, ca.cert);
        fs.writeFileSync(caKey, ca.key);
        fs.writeFileSync(extFile, `[v3]\n${opts.ext.join("\n")}\n`);
        this.run(["req", "-new", "-nodes", ...KEY_ARGS.p256, "-keyout", keyFile, "-out", csrFile, "-subj", opts.subj, "-config", this.cnf]);
        this.run(["x509", "-req", "-in", csrFile, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial", "-out", certFile,
            "-days", String(opts.days), "-extfile", extFile, "-extensions", "v3"]);
        return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") };
    }

    /**
     * A certificate valid exactly from notBefore to notAfter, which may be in the past (openssl ca
     * -startdate/-enddate; `x509 -days` starts now): signed by `issuer`, self-signed without one.
     */
    dated(opts: { subj: string; notBefore: Date; notAfter: Date; ext: string[]; issuer?: Pem }): Pem {
        const caDir = path.join(this.dir, "ca");
        const cnf = path.join(caDir, "ca.cnf");
        if (!fs.existsSync(cnf)) {
            fs.mkdirSync(path.join(caDir, "new"), { recursive: true });
            fs.writeFileSync(path.join(caDir, "index.txt"), "");
            fs.writeFileSync(path.join(caDir, "serial"), "01\n");
            fs.writeFileSync(cnf, [
                "[ca]", "default_ca = dated", "[dated]", `database = ${caDir}/index.txt`, `new_certs_dir = ${caDir}/new`, `serial = ${caDir}/serial`,
                "default_md = sha256", "policy = any", "unique_subject = no", "[any]", "commonName = supplied", "organizationName = optional", "",
            ].join("\n"));
        }
        const keyFile = this.file("key");
        const csrFile = this.file("csr");
        const certFile = this.file("crt");
        const extFile = this.file("ext");
        fs.writeFileSync(extFile, `[v3]\n${opts.ext.join("\n")}\n`);
        this.run(["req", "-new", "-nodes", ...KEY_ARGS.p256, "-keyout", keyFile, "-out", csrFile, "-subj", opts.subj, "-config", this.cnf]);
        let signer: string[] = ["-selfsign", "-keyfile", keyFile];
        if (opts.issuer) {
            const issuerCert = this.file("crt");
            const issuerKey = this.file("key");
            fs.writeFileSync(issuerCert, opts.issuer.cert);
            fs.writeFileSync(issuerKey, opts.issuer.key);
            signer = ["-cert", issuerCert, "-keyfile", issuerKey];
        }
        const asn1Time = (d: Date) => `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
        this.run(["ca", "-batch", "-notext", "-preserveDN", "-config", cnf, ...signer, "-in", csrFile, "-out", certFile,
            "-startdate", asn1Time(opts.notBefore), "-enddate", asn1Time(opts.notAfter), "-extfile", extFile, "-extensions", "v3"]);
        return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") };
    }

    /** A new self-signed CA certificate over the same key and subject (what a CA renewal makes). */
    renew(ca: Pem, opts: { cn?: string; days: number }): Pem {
        const keyFile = this.file("key");
        const certFile = this.file("crt");
        fs.writeFileSync(keyFile, ca.key);
        this.run(["req", "-x509", "-key", keyFile, "-out", certFile, "-days", String(opts.days), "-subj", `/CN=${opts.cn ?? "ca"}`, "-config", this.cnf,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-addext", "subjectKeyIdentifier=hash"]);
        return { cert: fs.readFileSync(certFile, "utf8"), key: ca.key };
    }

    /** The key encrypted with a passphrase. */
    encrypt(keyPem: string): string {
        return this.run(["pkey", "-aes256", "-passout", "pass:secret"], keyPem);
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Mocha hooks around a suite: two unrelated CAs (RSA 2048 "CN=ca", EC P-256 "CN=other-ca"), removed after. */
export function caFixture(): { ssl: OpenSsl; ca: Pem; other: Pem } {
    const f = { ssl: new OpenSsl() } as { ssl: OpenSsl; ca: Pem; other: Pem };
    before(() => {
        f.ca = f.ssl.ca({ cn: "ca", days: 3650, key: "rsa2048" });
        f.other = f.ssl.ca({ cn: "other-ca", days: 3650 });
    });
    after(() => f.ssl.remove());
    return f;
}
