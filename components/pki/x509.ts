// X.509 inspection with Node's crypto only: certificate facts for stack outputs and the checks an
// adopted CA must pass. Node's X509Certificate exposes neither the keyUsage bits nor the extended
// key usages reliably, so a minimal DER walker reads those two extensions.
import { createHash, createPrivateKey, createPublicKey, KeyObject, X509Certificate } from "crypto";
import type { ExtKeyUsage, KeyUsage } from "./catalog";

export interface CertificateFacts {
    subject: string;
    issuer: string;
    serialNumber: string;
    dnsNames: string[];
    ipAddresses: string[];
    notBefore: Date;
    notAfter: Date;
    isCa: boolean;
    /** undefined when the certificate has no keyUsage extension. */
    keyUsages: KeyUsage[] | undefined;
    extKeyUsages: ExtKeyUsage[];
    /** "RSA 2048", "EC P-256", … */
    publicKey: string;
    /** SHA-256 of the DER SubjectPublicKeyInfo, hex: identifies the key pair. */
    publicKeyFingerprint: string;
    selfSigned: boolean;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parse exactly one PEM certificate; errors never quote the input. */
export function parseCertificate(pem: string): X509Certificate {
    const blocks = typeof pem === "string" ? pem.match(PEM_CERT) ?? [] : [];
    if (blocks.length === 0) throw new Error("malformed PEM: no -----BEGIN CERTIFICATE----- block");
    if (blocks.length > 1) throw new Error(`expected one certificate, found ${blocks.length} (give the CA certificate alone)`);
    try {
        return new X509Certificate(blocks[0]!);
    } catch (e) {
        throw new Error(`malformed PEM: the certificate does not parse (${(e as Error).message})`);
    }
}

/** The PEM certificate blocks of a text (a bundle, a serving chain, a pem with its key beside), in order, each ending in one newline. */
export function certificateBlocks(text: string): string[] {
    return (text.match(PEM_CERT) ?? []).map((block) => `${block}\n`);
}

/** SHA-256 of a certificate's DER as openssl prints it (AB:CD:…): what the expiry report compares. */
export function certificateFingerprint(pem: string): string {
    return parseCertificate(pem).fingerprint256;
}

const PEM_PUBLIC_KEY = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/** The PEM public-key blocks (SubjectPublicKeyInfo, `BEGIN PUBLIC KEY`) of a text such as sa.pub, in order, each ending in one newline. */
export function publicKeyBlocks(text: string): string[] {
    return (text.match(PEM_PUBLIC_KEY) ?? []).map((block) => `${block}\n`);
}

/**
 * SHA-256 of a PEM public key's DER SubjectPublicKeyInfo, lowercase hex: what read-certs.sh prints
 * for it (openssl pkey -pubin -outform DER | sha256sum), and the same as publicKeyFingerprint of
 * its private key.
 */
export function publicKeyPemFingerprint(pem: string): string {
    let key: KeyObject;
    try {
        key = createPublicKey({ key: pem, format: "pem" });
    } catch (e) {
        throw new Error(`malformed PEM: the public key does not parse (${(e as Error).message})`);
    }
    return publicKeyFingerprint(key);
}

export function parsePrivateKey(pem: string): KeyObject {
    if (typeof pem !== "string" || !/-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(pem)) {
        throw new Error("malformed PEM: no -----BEGIN … PRIVATE KEY----- block");
    }
    if (/ENCRYPTED/.test(pem)) throw new Error("the private key is encrypted; give it unencrypted (stored as a Pulumi secret)");
    try {
        return createPrivateKey({ key: pem, format: "pem" });
    } catch (e) {
        throw new Error(`malformed PEM: the private key does not parse (${(e as Error).message})`);
    }
}

export function describeKey(key: KeyObject): string {
    const d = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === "rsa") return `RSA ${d.modulusLength}`;
    if (key.asymmetricKeyType === "ec") return `EC ${CURVE_NAMES[d.namedCurve ?? ""] ?? d.namedCurve}`;
    return String(key.asymmetricKeyType).toUpperCase();
}

const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521", secp224r1: "P-224" };

export function publicKeyFingerprint(key: KeyObject): string {
    const pub = key.type === "private" ? createPublicKey(key) : key;
    return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}

export function certificateFacts(pem: string): CertificateFacts {
    const cert = parseCertificate(pem);
    const exts = readExtensions(cert.raw);
    const sans = parseSubjectAltName(cert.subjectAltName);
    return {
        subject: oneLine(cert.subject),
        issuer: oneLine(cert.issuer),
        serialNumber: cert.serialNumber,
        ...sans,
        notBefore: new Date(cert.validFrom),
        notAfter: new Date(cert.validTo),
        isCa: exts.ca,
        keyUsages: exts.keyUsages,
        extKeyUsages: exts.extKeyUsages,
        publicKey: describeKey(cert.publicKey),
        publicKeyFingerprint: publicKeyFingerprint(cert.publicKey),
        selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey),
    };
}

/** "CN=client\nO=system:masters" → "O=system:masters, CN=client" (the order openssl prints). */
function oneLine(dn: string): string {
    return dn.split("\n").filter(Boolean).reverse().join(", ");
}

function parseSubjectAltName(san: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
    const dnsNames: string[] = [];
    const ipAddresses: string[] = [];
    for (const part of (san ?? "").split(", ").filter(Boolean)) {
        if (part.startsWith("DNS:")) dnsNames.push(part.slice(4));
        else if (part.startsWith("IP Address:")) ipAddresses.push(part.slice(11));
    }
    return { dnsNames, ipAddresses };
}

// ---------------------------------------------------------------- minimal DER

interface Tlv {
    tag: number;
    start: number; // of the value
    end: number; // exclusive
}

function readTlv(buf: Buffer, pos: number): Tlv {
    const tag = buf[pos]!;
    let len = buf[pos + 1]!;
    let start = pos + 2;
    if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
        start += n;
    }
    if (start + len > buf.length) throw new Error("DER: length beyond the buffer");
    return { tag, start, end: start + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
    const out: Tlv[] = [];
    for (let pos = parent.start; pos < parent.end; ) {
        const t = readTlv(buf, pos);
        out.push(t);
        pos = t.end;
    }
    return out;
}

function decodeOid(bytes: Buffer): string {
    const parts: number[] = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
    let v = 0;
    for (const b of bytes.subarray(1)) {
        v = v * 128 + (b & 0x7f);
        if (!(b & 0x80)) {
            parts.push(v);
            v = 0;
        }
    }
    return parts.join(".");
}

const KEY_USAGE_BITS: (KeyUsage | undefined)[] = [
    "digitalSignature",
    undefined, // nonRepudiation
    "keyEncipherment",
    undefined, // dataEncipherment
    undefined, // keyAgreement
    "certSign",
    "crlSign",
];
const EKU_OIDS: Record<string, ExtKeyUsage> = { "1.3.6.1.5.5.7.3.1": "serverAuth", "1.3.6.1.5.5.7.3.2": "clientAuth" };

export interface Extensions {
    /** basicConstraints cA (false when the extension is absent). */
    ca: boolean;
    keyUsages: KeyUsage[] | undefined;
    extKeyUsages: ExtKeyUsage[];
}

/** basicConstraints (2.5.29.19), keyUsage (2.5.29.15) and extKeyUsage (2.5.29.37) of a DER certificate. */
export function readExtensions(der: Buffer): Extensions {
    const cert = readTlv(der, 0);
    const tbs = children(der, cert)[0]!;
    const extsWrapper = children(der, tbs).find((t) => t.tag === 0xa3);
    let ca = false;
    let keyUsages: KeyUsage[] | undefined;
    const extKeyUsages: ExtKeyUsage[] = [];
    if (!extsWrapper) return { ca, keyUsages, extKeyUsages };
    for (const ext of children(der, children(der, extsWrapper)[0]!)) {
        const parts = children(der, ext);
        const oid = decodeOid(der.subarray(parts[0]!.start, parts[0]!.end));
        const octets = parts[parts.length - 1]!;
        const inner = readTlv(der, octets.start);
        if (oid === "2.5.29.19") {
            const first = children(der, inner)[0];
            ca = first !== undefined && first.tag === 0x01 && der[first.start] !== 0;
        } else if (oid === "2.5.29.15") {
            const bits = der.subarray(inner.start + 1, inner.end); // skip the unused-bits byte
            keyUsages = KEY_USAGE_BITS.flatMap((name, i) => (name && bits[i >> 3] !== undefined && bits[i >> 3]! & (0x80 >> (i & 7)) ? [name] : []));
        } else if (oid === "2.5.29.37") {
            for (const o of children(der, inner)) {
                const name = EKU_OIDS[decodeOid(der.subarray(o.start, o.end))];
                if (name) extKeyUsages.push(name);
            }
        }
    }
    return { ca, keyUsages, extKeyUsages };
}

// ---------------------------------------------------------------- adopted CA checks

const DAY_MS = 86_400_000;
/** A CA made minutes ago on a machine whose clock runs ahead is still accepted. */
const CLOCK_SKEW_MS = 5 * 60_000;

export interface AdoptionPolicy {
    now: Date;
    /** Validity of the leaves this CA will sign, in days. */
    leafDays: number;
    /** The CA renewal lead, in days: an adopted CA inside it gets a warning. */
    caRenewalDays: number;
}

export interface AdoptionResult {
    facts: CertificateFacts;
    warnings: string[];
}

/**
 * Checks an existing CA (certificate + private key PEM) before it signs anything. Throws one
 * Error listing every problem, each prefixed with `label` (the config keys); never quotes the PEM.
 */
export function validateAdoptedCa(certPem: string, keyPem: string, label: string, policy: AdoptionPolicy): AdoptionResult {
    const problems: string[] = [];
    const warnings: string[] = [];
    let cert: X509Certificate | undefined;
    let key: KeyObject | undefined;
    try {
        cert = parseCertificate(certPem);
    } catch (e) {
        problems.push(`certificate: ${(e as Error).message}`);
    }
    try {
        key = parsePrivateKey(keyPem);
    } catch (e) {
        problems.push(`private key: ${(e as Error).message}`);
    }
    let facts: CertificateFacts | undefined;
    if (cert) {
        facts = certificateFacts(certPem);
        if (!facts.isCa) problems.push("certificate is not a CA (basicConstraints CA:TRUE is missing)");
        if (facts.keyUsages && !facts.keyUsages.includes("certSign")) problems.push("certificate is not a CA (keyUsage lacks keyCertSign)");
        if (!/^(RSA (2048|3072|4096)|EC P-(256|384))$/.test(facts.publicKey)) {
            problems.push(`CA key ${facts.publicKey} is not accepted (RSA 2048/3072/4096 or EC P-256/P-384)`);
        }
        const now = policy.now.getTime();
        const leavesEnd = new Date(now + policy.leafDays * DAY_MS);
        if (facts.notBefore.getTime() > now + CLOCK_SKEW_MS) {
            problems.push(`CA is not valid yet (notBefore ${facts.notBefore.toISOString()})`);
        }
        if (facts.notAfter.getTime() <= now) {
            problems.push(`CA expired on ${facts.notAfter.toISOString()}: rotate it (bump the CA's rotation generation) instead of adopting it`);
        } else if (facts.notAfter < leavesEnd) {
            problems.push(
                `CA expires on ${facts.notAfter.toISOString()}, before leaves issued now would (valid ${policy.leafDays} days, ` +
                    `until ${leavesEnd.toISOString()}): a leaf's validity may not go beyond its CA's; rotate the CA or shorten pki.validity.leafDays`,
            );
        } else if (facts.notAfter.getTime() - now < policy.caRenewalDays * DAY_MS) {
            warnings.push(`${label}: CA expires on ${facts.notAfter.toISOString()}, inside the CA renewal lead of ${policy.caRenewalDays} days: plan a CA rotation`);
        }
        if (!facts.selfSigned) warnings.push(`${label}: CA is not self-signed; trust bundles must also hold its issuer chain`);
    }
    if (cert && key && !keyMatches(cert, key)) problems.push("private key does not match the certificate");
    if (problems.length > 0) throw new Error(problems.map((p) => `${label}: ${p}`).join("\n"));
    return { facts: facts!, warnings };
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
    try {
        return cert.checkPrivateKey(key);
    } catch {
        return false; // e.g. an EC key against an RSA certificate
    }
}
