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
}

export const smsRecordPath = (home: string) => join(home, 'sms', 'sms.json');

export async function readSmsRecord(home: string): Promise<SmsRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(smsRecordPath(home), 'utf8')) as SmsRecord;
  } catch {
    return undefined;
  }
}
