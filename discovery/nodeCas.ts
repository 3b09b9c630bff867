// The CAs that exist only on the masters (the front-proxy CA; a separate etcd CA), read from every
// master for adoption: one pair, the same on each master, its key matching its certificate.
import type { CaId } from "../components/pki/settings";
import { parseCertificate, parsePrivateKey, publicKeyFingerprint } from "../components/pki/x509";
import type { SshAccess } from "./sshAccess";

export interface NodeCa {
    id: CaId;
    certificate: string;
    privateKey: string;
    /** SHA-256 of the certificate, for the operator's review. */
    fingerprint: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** The certificate and the private key in `cat cert key`'s output (each file one PEM block). */
function splitPair(text: string, where: string): { certificate: string; privateKey: string } {
    const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0].endsWith("\n") ? m[0] : `${m[0]}\n` }));
    const certificate = blocks.filter((b) => b.label === "CERTIFICATE");
    const keys = blocks.filter((b) => b.label.endsWith("PRIVATE KEY"));
    if (certificate.length !== 1 || keys.length !== 1) throw new Error(`${where}: expected one certificate and one private key, found ${certificate.length} and ${keys.length}`);
    return { certificate: certificate[0]!.pem, privateKey: keys[0]!.pem };
}

/**
 * Reads `ca` on every master over SSH (sudo; the key goes over the SSH channel only) and checks that
 * each holds the same certificate and key and that they match. An error names the master and file.
 */
export async function readNodeCa(ssh: SshAccess, masters: { name: string; ip: string }[], ca: { id: CaId; certFile: string; keyFile: string }): Promise<NodeCa> {
    const pairs = await Promise.all(
        masters.map(async (m) => {
            const where = `${m.name}: ${ca.certFile}, ${ca.keyFile}`;
            const text = await ssh.run(m.ip, `sudo -n cat -- ${ca.certFile} ${ca.keyFile}`).catch((e: Error) => {
                throw new Error(`${where}: ${e.message}`);
            });
            const pair = splitPair(text, where);
            const certificate = parseCertificate(pair.certificate);
            if (publicKeyFingerprint(certificate.publicKey) !== publicKeyFingerprint(parsePrivateKey(pair.privateKey))) throw new Error(`${where}: the key does not match the certificate`);
            return { master: m.name, ...pair, fingerprint: certificate.fingerprint256 };
        }),
    );
    const first = pairs[0]!;
    for (const p of pairs.slice(1)) {
        if (p.fingerprint !== first.fingerprint || p.privateKey.trim() !== first.privateKey.trim()) {
            throw new Error(`${ca.id}: ${p.master} holds another ${ca.certFile} or ${ca.keyFile} than ${first.master} (SHA-256 ${p.fingerprint} and ${first.fingerprint}): the masters must agree before one can be adopted`);
        }
    }
    return { id: ca.id, certificate: first.certificate, privateKey: first.privateKey, fingerprint: first.fingerprint };
}
