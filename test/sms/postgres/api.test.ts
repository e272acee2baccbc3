/** test/sms/api.test.ts on PostgreSQL (a throwaway cluster, see test/helpers/stores.ts). */
import { runSuiteOn } from '../../helpers/stores.js';

await runSuiteOn('postgres', 'sms/api', () => import('../api.test.js'));
