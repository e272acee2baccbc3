import { connect } from 'node:tls';
import { SealworkError } from '../errors.js';
import { fetchEvidenceOver } from './attestedAgent.js';
import type { SmsEvidence } from './verifySms.js';

/**
 * `GET /attestation` over a fresh TLS connection, with the SubjectPublicKeyInfo of that
 * connection's peer (to check the binding); the certificate is not trusted by a CA here, the
 * evidence is what is checked (`sealwork sms verify`).
 */
export function getAttestation(
  url: string,
  o: { timeoutMs?: number } = {},
): Promise<{ evidence: SmsEvidence; tlsPublicKeySpki: Buffer }> {
  const u = new URL(url);
  if (u.protocol !== 'https:')
    return Promise.reject(
      new SealworkError(
        'SMS_NOT_ATTESTED',
        `The SMS at ${u.origin} is plain HTTP, which cannot be attested.`,
        {
          hint: 'Give the https:// URL of an attested SMS.',
        },
      ),
    );
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: Number(u.port || 443),
      rejectUnauthorized: false,
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    socket.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SealworkError('SMS_UNREACHABLE', `The SMS at ${u.origin} cannot be reached: ${e.message}`, {
          hint: 'Start it with `sealwork sms start`, or pass the right URL.',
          details: { url: u.origin },
          cause: e,
        }),
      ),
    );
    socket.once('secureConnect', () => {
      const peer = socket.getPeerX509Certificate();
      const tlsPublicKeySpki = peer
        ? peer.publicKey.export({ type: 'spki', format: 'der' })
        : Buffer.alloc(0);
      fetchEvidenceOver(socket, u.host, o.timeoutMs ?? 15_000).then(
        (evidence) => {
          socket.end();
          resolve({ evidence, tlsPublicKeySpki });
        },
        (e: unknown) => {
          socket.destroy();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  });
}
