/** Trust anchors: the pinned Intel SGX Root CA, and simulation roots passed explicitly. */
import { X509Certificate } from 'node:crypto';
import { SealworkError } from '../errors.js';

/**
 * Intel SGX Root CA (public certificate, CN=Intel SGX Root CA, valid 2018-05-21 .. 2049-12-31),
 * https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem
 */
export const INTEL_SGX_ROOT_CA_PEM = `-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
`;

/** SHA-256 fingerprint of the Intel SGX Root CA, pinned. */
export const INTEL_SGX_ROOT_CA_FINGERPRINT =
  '44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3';

export interface TrustedRoot {
  /** Human name (e.g. "Intel SGX Root CA", "sealwork simulation root"). */
  name: string;
  /** The root certificate, PEM. */
  pem: string;
  /** Quotes anchored here are simulated (never real hardware). */
  simulated: boolean;
}

export interface LoadedRoot extends TrustedRoot {
  cert: X509Certificate;
  fingerprint256: string;
}

const loaded = new Map<string, LoadedRoot>();

export function loadRoot(root: TrustedRoot): LoadedRoot {
  const key = `${root.simulated ? 's' : 'r'}:${root.name}:${root.pem}`;
  let l = loaded.get(key);
  if (!l) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(root.pem);
    } catch (e) {
      throw new SealworkError(
        'TRUSTED_ROOT_INVALID',
        `Trusted root "${root.name}" is not a valid certificate.`,
        {
          hint: 'Pass a PEM certificate.',
          cause: e,
        },
      );
    }
    l = { ...root, cert, fingerprint256: cert.fingerprint256 };
    loaded.set(key, l);
  }
  return l;
}

export const INTEL_SGX_ROOT: TrustedRoot = Object.freeze({
  name: 'Intel SGX Root CA',
  pem: INTEL_SGX_ROOT_CA_PEM,
  simulated: false,
});

// Fail closed if the embedded PEM was ever altered.
if (loadRoot(INTEL_SGX_ROOT).fingerprint256 !== INTEL_SGX_ROOT_CA_FINGERPRINT)
  throw new Error('embedded Intel SGX Root CA does not match its pinned fingerprint');
