import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SealworkError } from '../errors.js';

const run = promisify(execFile);

export interface TlsMaterial {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/**
 * A self-signed TLS certificate (ECDSA P-256, SAN 127.0.0.1/localhost) kept in `dir`
 * (`cert.pem`, `key.pem` mode 0600): generated on first use with the system `openssl`, reused
 * afterwards.
 */
export async function loadOrCreateTls(dir: string, commonName = 'sealwork-storage'): Promise<TlsMaterial> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  try {
    const [cert, key] = await Promise.all([fs.readFile(certPath, 'utf8'), fs.readFile(keyPath, 'utf8')]);
    return { cert, key, certPath, keyPath };
  } catch {
    /* generate below */
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tag = randomBytes(4).toString('hex');
  const tmpKey = join(dir, `.key.${tag}.partial`);
  const tmpCert = join(dir, `.cert.${tag}.partial`);
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
        '-days',
        '3650',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { timeout: 30_000 },
    );
    await fs.chmod(tmpKey, 0o600);
    await fs.rename(tmpKey, keyPath);
    await fs.rename(tmpCert, certPath);
  } catch (e) {
    await fs.rm(tmpKey, { force: true });
    await fs.rm(tmpCert, { force: true });
    throw new SealworkError('TLS_CERT_FAILED', `Cannot create a TLS certificate in ${dir}.`, {
      hint: 'Check that `openssl` is installed and the folder is writable.',
      cause: e,
    });
  }
  const [cert, key] = await Promise.all([fs.readFile(certPath, 'utf8'), fs.readFile(keyPath, 'utf8')]);
  return { cert, key, certPath, keyPath };
}
