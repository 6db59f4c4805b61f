// Test certificates made with the openssl CLI: a private CA and a server certificate it signs, for HTTPS tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** A second, unrelated CA: trusting it instead of caCert must fail verification. */
  untrusted: { caCert: string };
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** P-256 keys: the openssl CLI makes one in ~10 ms, a 2048-bit RSA key in ~0.4 s of CPU. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, prefix: string, subject: string): void {
  openssl(dir, ['req', '-x509', ...EC_KEY, '-sha256', '-days', '2', '-subj', subject,
    '-keyout', `${prefix}.key`, '-out', `${prefix}.crt`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

export function createTestCertificates(hostnames: string[] = ['127.0.0.1', 'localhost']): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'fake-gitlab-tls-'));
  try {
    makeCa(dir, 'ca', '/CN=fake-gitlab test CA');
    makeCa(dir, 'other-ca', '/CN=fake-gitlab untrusted CA');
    const san = hostnames.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    writeFileSync(join(dir, 'server.ext'), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
    openssl(dir, ['req', ...EC_KEY, '-sha256', '-subj', `/CN=${hostnames[0] ?? 'localhost'}`,
      '-keyout', 'server.key', '-out', 'server.csr']);
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', 'server.ext', '-out', 'server.crt']);
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    return { caCert: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), untrusted: { caCert: read('other-ca.crt') } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Certificates for the TLS failure kinds a GitLab can present; one EC key serves every leaf. */
export interface TlsVariants {
  /** The root CA and the intermediate it signs, both PEM. */
  rootCa: string;
  intermediateCa: string;
  key: string;
  /** A leaf signed by the intermediate, alone: the server sends no intermediate (an incomplete chain). */
  leafOnly: string;
  /** The same leaf followed by the intermediate: a complete chain. */
  fullChain: string;
  /** A leaf signed by the root whose validity ended in 2020. */
  expired: string;
  /** A leaf signed by the root for another host name only. */
  wrongHost: string;
  /** A self-signed leaf for the right host. */
  selfSigned: string;
}

const CA_CONFIG = `[ca]\ndefault_ca = CA_default\n[CA_default]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n`;

/** Makes every TlsVariants certificate for `host` (an IP address or a DNS name) with the openssl CLI. */
export function createTlsVariants(host = '127.0.0.1'): TlsVariants {
  const dir = mkdtempSync(join(tmpdir(), 'fake-gitlab-tls-variants-'));
  const write = (name: string, text: string) => { writeFileSync(join(dir, name), text); };
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  const leafExt = (san: string) => `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`;
  const san = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  try {
    write('ca.cnf', CA_CONFIG);
    write('index.txt', '');
    write('serial', '1000\n');
    write('leaf.ext', leafExt(san));
    write('other.ext', leafExt('DNS:other-host.invalid'));
    write('ca.ext', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl(dir, ['req', '-x509', ...EC_KEY, '-days', '2', '-subj', '/CN=variants root CA', '-keyout', 'root.key', '-out', 'root.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(dir, ['req', ...EC_KEY, '-subj', '/CN=variants intermediate CA', '-keyout', 'int.key', '-out', 'int.csr']);
    openssl(dir, ['x509', '-req', '-in', 'int.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial', '-days', '2', '-extfile', 'ca.ext', '-out', 'int.crt']);
    openssl(dir, ['req', ...EC_KEY, '-subj', `/CN=${host}`, '-keyout', 'leaf.key', '-out', 'leaf.csr']);
    const sign = (ca: string, ext: string, out: string, extra: string[] = ['-days', '2']) => { openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', ...extra, '-extfile', ext, '-out', out]); };
    sign('int', 'leaf.ext', 'leaf.crt');
    sign('root', 'other.ext', 'other.crt');
    openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-signkey', 'leaf.key', '-days', '2', '-extfile', 'leaf.ext', '-out', 'self.crt']);
    // openssl 3.0's x509 cannot backdate: `ca` takes explicit start and end dates.
    openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'root.crt', '-keyfile', 'root.key', '-in', 'leaf.csr', '-out', 'expired.crt', '-notext', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', 'leaf.ext']);
    const leaf = read('leaf.crt');
    return { rootCa: read('root.crt'), intermediateCa: read('int.crt'), key: read('leaf.key'), leafOnly: leaf, fullChain: leaf + read('int.crt'), expired: read('expired.crt'), wrongHost: read('other.crt'), selfSigned: read('self.crt') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
