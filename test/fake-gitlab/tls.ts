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

function makeCa(dir: string, prefix: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', subject,
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
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', `/CN=${hostnames[0] ?? 'localhost'}`,
      '-keyout', 'server.key', '-out', 'server.csr']);
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', 'server.ext', '-out', 'server.crt']);
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    return { caCert: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), untrusted: { caCert: read('other-ca.crt') } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
