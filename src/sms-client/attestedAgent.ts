/**
 * The connection a sealwork client sends through: a keep-alive HTTPS agent whose every new TLS
 * connection is checked before the agent hands it to a request, so nothing of the request (not
 * even its headers) is written to an unverified SMS. The check: the peer's key (the TLS handshake
 * proved the peer holds it) must be a key whose evidence verified against the pinned policy; a key
 * seen for the first time is attested over that same connection (`GET /attestation`, one round
 * trip), then the connection carries the request. Verdicts are cached per key in the agent, so
 * further connections to the same SMS cost no extra round trip.
 *
 * The certificate is not checked against a CA: the attestation replaces it (RA-TLS).
 */
import { Agent, type AgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { TrustedRoot } from '../attestation/index.js';
import { SealworkError } from '../errors.js';
import {
  smsVerdictError,
  verifySmsEvidence,
  type SmsEvidence,
  type SmsPinPolicy,
  type SmsVerdict,
} from './verifySms.js';

export interface SmsAttestOptions {
  policy: SmsPinPolicy;
  trustedRoots?: TrustedRoot[];
  /** Where the pin came from, for messages ("flags", "record (trust on first use)", …). */
  pinSource?: string;
}

const MAX_EVIDENCE = 1024 * 1024;

/** `GET /attestation` written on the socket itself, the answer read back (Content-Length framing). */
export function fetchEvidenceOver(socket: TLSSocket, host: string, timeoutMs: number): Promise<SmsEvidence> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (e: Error | undefined, v?: SmsEvidence) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (e) reject(e);
      else resolve(v!);
    };
    const fail = (why: string) =>
      done(
        new SealworkError('SMS_NOT_ATTESTED', `The SMS serves no attestation evidence: ${why}.`, {
          hint: 'Connect to an attested SMS (`sealwork sms start` without --tls-cert); `sealwork sms verify` shows what it serves.',
        }),
      );
    const onError = (e: Error) => done(e);
    const onClose = () => fail('the connection closed');
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_EVIDENCE) return fail('the answer is too large');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1]);
      const lenLine = head.find((l) => /^content-length:/i.test(l));
      if (!lenLine) return fail(`HTTP ${status} without a Content-Length`);
      const len = Number(lenLine.split(':')[1]);
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
      if (status !== 200) return fail(`HTTP ${status} at /attestation (${body.slice(0, 200)})`);
      try {
        const j = JSON.parse(body) as SmsEvidence & { attested?: boolean };
        if (j.attested === false || typeof j.certificate !== 'string')
          return fail('it says it is not attested');
        done(undefined, j);
      } catch {
        fail('the evidence is not JSON');
      }
    };
    const timer = setTimeout(() => fail(`no answer in ${timeoutMs} ms`), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.write(
      `GET /attestation HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n`,
    );
  });
}

export class AttestedSmsAgent extends Agent {
  /** Verdicts by the hex SPKI of the key they attest (pending ones included). */
  private readonly verdicts = new Map<string, Promise<SmsVerdict>>();
  /** The last verdict that passed (what the SMS proved). */
  lastVerdict: SmsVerdict | undefined;
  /** How many times evidence was fetched and verified (for tests and benchmarks). */
  attestations = 0;

  constructor(
    private readonly attest: SmsAttestOptions,
    private readonly origin: string,
    private readonly timeoutMs: number,
    opts: AgentOptions = {},
  ) {
    super({ keepAlive: true, ...opts });
  }

  /** Check a fresh connection; resolves once it may carry requests. */
  async check(socket: TLSSocket): Promise<SmsVerdict> {
    const peer = socket.getPeerX509Certificate();
    if (!peer)
      throw new SealworkError('SMS_KEY_NOT_BOUND', `The SMS at ${this.origin} presented no certificate.`);
    const spki = peer.publicKey.export({ type: 'spki', format: 'der' });
    const k = spki.toString('hex');
    let v = this.verdicts.get(k);
    if (!v) {
      v = (async () => {
        this.attestations++;
        const evidence = await fetchEvidenceOver(socket, new URL(this.origin).host, this.timeoutMs);
        return verifySmsEvidence(evidence, this.attest.policy, {
          ...(this.attest.trustedRoots ? { trustedRoots: this.attest.trustedRoots } : {}),
          tlsPublicKeySpki: spki,
        });
      })();
      this.verdicts.set(k, v);
      v.catch(() => this.verdicts.delete(k));
    }
    const verdict = await v;
    if (!verdict.ok) {
      this.verdicts.delete(k);
      throw smsVerdictError(verdict, this.origin);
    }
    this.lastVerdict = verdict;
    return verdict;
  }

  override createConnection(
    options: ConnectionOptions & { host?: string },
    cb: (err: Error | null, socket?: Duplex) => void,
  ): Duplex | undefined {
    // No session resumption: every connection shows its certificate and is checked.
    const socket = connect({ ...options, rejectUnauthorized: false, session: undefined });
    let called = false;
    const once = (e: Error | null, s?: Duplex) => {
      if (called) return;
      called = true;
      cb(e, s);
    };
    socket.once('error', (e) => once(e));
    socket.once('secureConnect', () => {
      this.check(socket).then(
        () => once(null, socket),
        (e: Error) => {
          socket.destroy();
          once(e);
        },
      );
    });
    return undefined;
  }
}
