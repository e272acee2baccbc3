/**
 * Child process of the interop test: the real `iexec` SDK (v9) creates, signs and hashes orders
 * against our hub. argv[2]: JSON {chainUrl, hubAddress, app, dataset, workerpool, keys: {app,
 * dataset, workerpool, requester}}. Prints one JSON line: the signed orders and iexec's hashes.
 * Tags are iexec's defaults (v9: TEE + TDX, 0x…09).
 */
import { IExec, utils } from 'iexec';

const a = JSON.parse(process.argv[2]!) as {
  chainUrl: string;
  hubAddress: string;
  app: string;
  dataset: string;
  workerpool: string;
  keys: Record<'app' | 'dataset' | 'workerpool' | 'requester', string>;
};
const sdk = (key: string) =>
  new IExec({ ethProvider: utils.getSignerFromPrivateKey(a.chainUrl, key) }, { hubAddress: a.hubAddress });
const noCheck = { preflightCheck: false };
const out: Record<string, unknown> = {};
try {
  const app = sdk(a.keys.app);
  const ds = sdk(a.keys.dataset);
  const wp = sdk(a.keys.workerpool);
  const rq = sdk(a.keys.requester);
  const ao = { ...(await app.order.createApporder({ app: a.app, volume: 3 })) };
  const apporder = await app.order.signApporder(ao, noCheck);
  const dso = {
    ...(await ds.order.createDatasetorder({ dataset: a.dataset, apprestrict: a.app })),
  };
  const datasetorder = await ds.order.signDatasetorder(dso, noCheck);
  const wpo = {
    ...(await wp.order.createWorkerpoolorder({ workerpool: a.workerpool, category: 0, volume: 3 })),
  };
  const workerpoolorder = await wp.order.signWorkerpoolorder(wpo);
  const rqo = {
    ...(await rq.order.createRequestorder({
      app: a.app,
      dataset: a.dataset,
      workerpool: a.workerpool,
      category: 0,
      params: { iexec_args: 'hello' },
    })),
  };
  const requestorder = await rq.order.signRequestorder(rqo, noCheck);
  out.orders = { apporder, datasetorder, workerpoolorder, requestorder };
  out.hashes = {
    app: await app.order.hashApporder(apporder),
    dataset: await ds.order.hashDatasetorder(datasetorder),
    workerpool: await wp.order.hashWorkerpoolorder(workerpoolorder),
    request: await rq.order.hashRequestorder(requestorder),
  };
  out.appShow = await app.app.showApp(a.app).catch((e: Error) => ({ error: e.message }));
} catch (e) {
  out.error = (e as Error).stack ?? String(e);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
