/**
 * TLS for sealwork's servers (the SMS, the result storage): a self-signed certificate (RSA-2048,
 * SAN 127.0.0.1 / ::1 / localhost, or the given hosts) generated on first start in the server's
 * `tls/` folder, or a given cert/key pair. One library: node-forge assembles and signs the
 * certificate (pure JavaScript, no `openssl` binary needed); node:crypto makes the key.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { SealworkError, fsError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint of the certificate (hex, colon-separated), for pinning. */
  fingerprint256: string;
  generated: boolean;
}

/**
 * Generate a self-signed certificate for the given host names / IPs: RSA-2048 key from node:crypto,
 * certificate assembled and signed (SHA-256) with node-forge.
 */
export async function generateSelfSignedCert(
  hosts: string[] = ['127.0.0.1', '::1', 'localhost'],
  commonName = 'sealwork SMS (self-signed)',
): Promise<{ cert: string; key: string }> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const fkey = forge.pki.privateKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs1' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(fkey.n, fkey.e);
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + 5 * 365 * 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    },
  ]);
  cert.sign(fkey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

/** Load `--tls-cert/--tls-key`, or the generated pair under `dir` (creating it on first start). */
export async function loadOrCreateTls(opts: {
  dir: string;
  certPath?: string;
  keyPath?: string;
  hosts?: string[];
  /** Subject of a generated certificate (default `sealwork SMS (self-signed)`). */
  commonName?: string;
}): Promise<TlsMaterial> {
  if ((opts.certPath && !opts.keyPath) || (!opts.certPath && opts.keyPath))
    throw new SealworkError('TLS_OPTIONS_INCOMPLETE', 'Give both --tls-cert and --tls-key, or neither.', {
      hint: 'Without them a self-signed certificate is generated on first start.',
    });
  const certPath = opts.certPath ?? join(opts.dir, 'cert.pem');
  const keyPath = opts.keyPath ?? join(opts.dir, 'key.pem');
  let generated = false;
  let cert: string;
  let key: string;
  try {
    cert = await fs.readFile(certPath, 'utf8');
    key = await fs.readFile(keyPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || opts.certPath)
      throw fsError(e, opts.certPath ? opts.certPath : certPath, 'read TLS material');
    const g = await generateSelfSignedCert(opts.hosts, opts.commonName);
    await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(keyPath, g.key, { mode: 0o600, force: true });
    await writeFileAtomic(certPath, g.cert, { mode: 0o644, force: true });
    cert = g.cert;
    key = g.key;
    generated = true;
  }
  let fingerprint256: string;
  try {
    fingerprint256 = new X509Certificate(cert).fingerprint256;
  } catch (e) {
    throw new SealworkError('TLS_CERT_INVALID', `${certPath} is not a PEM X.509 certificate.`, {
      hint: 'Give a PEM certificate with --tls-cert.',
      details: { path: certPath },
      cause: e,
    });
  }
  return { cert, key, certPath, keyPath, fingerprint256, generated };
}
