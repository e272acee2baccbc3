/**
 * The one resolver of the SMS URL and the certificate to trust, for every client (worker, SDK,
 * CLI): the option, else `SEALWORK_SMS_URL` / `SEALWORK_SMS_CA`, else the SMS recorded under the
 * home by `sms start` (its certificate only when the URL is that SMS's).
 */
import { promises as fs } from 'node:fs';
import { SealworkError, fsError } from '../errors.js';
import { readSmsRecord } from './smsRecord.js';

export interface ResolveSmsEndpointParameters {
  home: string;
  /** SMS URL (else SEALWORK_SMS_URL, else the local SMS recorded by `sms start`). */
  smsUrl?: string;
  /** PEM file, or PEM text, of the certificate to trust (else SEALWORK_SMS_CA, else the local SMS's certificate). */
  smsCa?: string;
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface SmsEndpoint {
  url: string;
  /** PEM certificate(s) to trust, when one is configured. */
  ca?: string;
  /** The file `ca` was read from (not set when the certificate was given as PEM text). */
  caPath?: string;
}

export async function resolveSmsEndpoint(p: ResolveSmsEndpointParameters): Promise<SmsEndpoint> {
  const env = p.env ?? process.env;
  const rec = await readSmsRecord(p.home);
  const url = p.smsUrl || env.SEALWORK_SMS_URL || rec?.url;
  if (!url)
    throw new SealworkError('SMS_NOT_CONFIGURED', 'No SMS is configured.', {
      hint: 'Start one with `sealwork sms start`, or pass --sms-url / set SEALWORK_SMS_URL.',
    });
  const ca = p.smsCa || env.SEALWORK_SMS_CA || (rec && rec.url === url ? rec.certPath : undefined);
  if (!ca) return { url };
  if (ca.includes('-----BEGIN')) return { url, ca };
  try {
    return { url, ca: await fs.readFile(ca, 'utf8'), caPath: ca };
  } catch (e) {
    throw fsError(e, ca, 'read the SMS certificate');
  }
}
