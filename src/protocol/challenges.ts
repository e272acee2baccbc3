/**
 * The iExec SMS secret-push challenges, exactly (iexec-sms `AuthorizationService`, iexec SDK
 * `common/sms/push.js`). `‖` is byte concatenation; addresses are their 20 bytes (case does not
 * matter); strings are hashed as UTF-8. The Authorization header carries the EIP-191
 * (`personal_sign`) signature of the 32-byte challenge. The client signs them, the SMS checks them.
 */
import { concatHex, keccak256, stringToHex, type Address, type Hex } from 'viem';

export const SMS_DOMAIN_STRING = 'IEXEC_SMS_DOMAIN';
/** `keccak256(utf8("IEXEC_SMS_DOMAIN"))`. */
export const SMS_DOMAIN: Hex = keccak256(stringToHex(SMS_DOMAIN_STRING));

/** The web2 secret name iExec reserves for the beneficiary's result-encryption public key. */
export const RESULT_ENCRYPTION_KEY_NAME = 'iexec-result-encryption-public-key';
/** The key string the iExec SDK puts in the app developer secret challenge. */
export const APP_DEVELOPER_SECRET_KEY = '1';
/** Our key string for an app's file-system key (encrypted FSPF regions): an app secret of its own. */
export const APP_FS_KEY_NAME = 'sealwork-fs-key';
/** Requester secret names, as iexec-sms validates them (`^[\p{Alnum}-_]{1,64}$`, ASCII). */
export const REQUESTER_SECRET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Secret values over this many bytes are refused with 413 (iexec-sms: 4 Kb). */
export const MAX_SECRET_BYTES = 4096;

const hashUtf8 = (s: string): Hex => keccak256(stringToHex(s));
const addr = (a: string): Hex => a.toLowerCase() as Hex;

/** Dataset key push: `keccak256(DOMAIN ‖ A ‖ keccak256(secret))`. */
export function web3SecretChallenge(secretAddress: Address | string, secretValue: string): Hex {
  return keccak256(concatHex([SMS_DOMAIN, addr(secretAddress), hashUtf8(secretValue)]));
}

/** Web2 / requester / app secret push: `keccak256(DOMAIN ‖ O ‖ keccak256(name) ‖ keccak256(secret))`. */
export function web2SecretChallenge(owner: Address | string, secretName: string, secretValue: string): Hex {
  return keccak256(concatHex([SMS_DOMAIN, addr(owner), hashUtf8(secretName), hashUtf8(secretValue)]));
}

/** App developer secret: the web2 formula with the app address and key `"1"`. */
export function appSecretChallenge(
  app: Address | string,
  secretValue: string,
  key = APP_DEVELOPER_SECRET_KEY,
): Hex {
  return web2SecretChallenge(app, key, secretValue);
}

/** Requester secret: the web2 formula with the requester address and the secret name. */
export function requesterSecretChallenge(
  requester: Address | string,
  name: string,
  secretValue: string,
): Hex {
  return web2SecretChallenge(requester, name, secretValue);
}

/** How long a receipt-read signature is accepted around its timestamp (seconds, either way). */
export const RECEIPT_READ_WINDOW_SECONDS = 300;

/**
 * Reading a task's release receipt (`GET /receipts/{taskId}`, a sealwork extension):
 * `keccak256(DOMAIN ‖ keccak256("sealwork-receipt-read") ‖ taskId ‖ keccak256(timestamp))`, the
 * timestamp in unix seconds as a decimal string (sent in the `X-Sealwork-Timestamp` header). The
 * `Authorization` header carries its EIP-191 signature by the task's requester or dataset owner.
 */
export function receiptReadChallenge(taskId: Hex, timestamp: number): Hex {
  return keccak256(
    concatHex([
      SMS_DOMAIN,
      hashUtf8('sealwork-receipt-read'),
      taskId.toLowerCase() as Hex,
      hashUtf8(String(timestamp)),
    ]),
  );
}
