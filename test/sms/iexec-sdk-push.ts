/**
 * Child process of the interop test: the real `iexec` SDK (v9) pushes secrets to our SMS.
 * argv[2]: JSON {chainUrl, smsURL, hubAddress, datasetOwnerKey, dataset, datasetKey, appOwnerKey,
 * app, appSecret, requesterSecretName, requesterSecret, resultPublicKeyPem}.
 * Prints one JSON line with every outcome. Run with NODE_EXTRA_CA_CERTS=<SMS certificate> so
 * Node's fetch trusts the SMS's self-signed certificate, as a real deployment would with its CA.
 */
import { IExec, utils } from 'iexec';

const a = JSON.parse(process.argv[2]!) as Record<string, string>;
const sdk = (key: string) =>
  new IExec(
    { ethProvider: utils.getSignerFromPrivateKey(a.chainUrl!, key) },
    { smsURL: a.smsURL!, hubAddress: a.hubAddress! },
  );
const owner = sdk(a.datasetOwnerKey!);
const out: Record<string, unknown> = {};
const attempt = async (name: string, f: () => Promise<unknown>) => {
  try {
    out[name] = await f();
  } catch (e) {
    out[`${name}Error`] = (e as Error).message;
  }
};
await attempt('datasetExistsBefore', () => owner.dataset.checkDatasetSecretExists(a.dataset!));
await attempt('datasetPush', () => owner.dataset.pushDatasetSecret(a.dataset!, a.datasetKey!));
await attempt('datasetPushAgain', () => owner.dataset.pushDatasetSecret(a.dataset!, a.datasetKey!));
await attempt('datasetExistsAfter', () => owner.dataset.checkDatasetSecretExists(a.dataset!));
await attempt('datasetPushByStranger', () =>
  sdk(a.appOwnerKey!).dataset.pushDatasetSecret(a.dataset!, a.datasetKey!),
);
await attempt('appPush', () => sdk(a.appOwnerKey!).app.pushAppSecret(a.app!, a.appSecret!));
await attempt('appExists', () => owner.app.checkAppSecretExists(a.app!));
await attempt('requesterPush', () =>
  owner.secrets.pushRequesterSecret(a.requesterSecretName!, a.requesterSecret!),
);
await attempt('resultKeyPush', () => owner.result.pushResultEncryptionKey(a.resultPublicKeyPem!));
await attempt('resultKeyExists', async () =>
  owner.result.checkResultEncryptionKeyExists(await owner.wallet.getAddress()),
);
process.stdout.write(`${JSON.stringify(out)}\n`);
