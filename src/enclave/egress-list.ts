/**
 * The network shield's allowlist, as the app declares it at build time (`app build --egress
 * host:port`): the destinations its enclave may open a TLS tunnel to. The list is part of the
 * enclave configuration, so MrEnclave (the configuration page) and the FSPF tag (the sealed
 * enclave identity) both cover it: a changed list is a different app.
 */
import { isIP } from 'node:net';
import { SealworkError } from '../errors.js';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function invalid(entry: string, why: string): SealworkError {
  return new SealworkError('EGRESS_INVALID', `Cannot use the egress destination "${entry}": ${why}.`, {
    hint: 'Give host:port with a DNS name and a port, e.g. --egress api.example.com:443 (TLS needs a name for SNI: IP addresses are refused).',
    details: { entry },
  });
}

/** `host:port`, lower-cased, without a trailing dot. */
export function parseEgressEntry(entry: string): { host: string; port: number; text: string } {
  const text = entry.trim();
  const i = text.lastIndexOf(':');
  if (i <= 0) throw invalid(entry, 'the port is missing');
  const host = text.slice(0, i).toLowerCase().replace(/\.$/, '');
  const p = text.slice(i + 1);
  const port = Number(p);
  if (!/^\d{1,5}$/.test(p) || port < 1 || port > 65535) throw invalid(entry, `${p} is not a port`);
  if (isIP(host.replace(/^\[|\]$/g, ''))) throw invalid(entry, 'it is an IP address, not a name');
  if (host.length > 253 || !host.split('.').every((l) => LABEL.test(l)))
    throw invalid(entry, `${host} is not a DNS name`);
  return { host, port, text: `${host}:${port}` };
}

/** The normalized list: each entry checked, duplicates removed, sorted (so the measurement is stable). */
export function normalizeEgress(entries: readonly string[] | undefined): string[] {
  return [...new Set((entries ?? []).map((e) => parseEgressEntry(e).text))].sort();
}
