/**
 * Where a running SMS records itself for the clients of its home: `<home>/sms/sms.json`
 * (written by `sms start`, read by every client through resolveSmsEndpoint).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export interface SmsRecord {
  url: string;
  pid: number;
  certPath?: string;
  fingerprint256?: string;
  startedAt: string;
  /**
   * The SMS's attested identity, written by the SMS itself: a client that pins it from here
   * trusts it on first use (pin it yourself with --sms-mrenclave for more).
   */
  attestation?: {
    mrEnclave: string;
    mrSigner: string;
    simulated: boolean;
    /** The simulation root its quotes chain to (simulated platform only). */
    simRootPath?: string;
  };
  /** The SMS serves an operator-provided certificate: plain TLS, not attested. */
  unattested?: true;
}

export const smsRecordPath = (home: string) => join(home, 'sms', 'sms.json');

export async function readSmsRecord(home: string): Promise<SmsRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(smsRecordPath(home), 'utf8')) as SmsRecord;
  } catch {
    return undefined;
  }
}
