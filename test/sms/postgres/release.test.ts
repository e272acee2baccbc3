/** test/sms/release.test.ts on PostgreSQL (a throwaway cluster, see test/helpers/stores.ts). */
import { runSuiteOn } from '../../helpers/stores.js';

await runSuiteOn('postgres', 'sms/release', () => import('../release.test.js'));
