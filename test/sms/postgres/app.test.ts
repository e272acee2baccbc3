/** test/sms/app.test.ts on PostgreSQL (a throwaway cluster, see test/helpers/stores.ts). */
import { runSuiteOn } from '../../helpers/stores.js';

await runSuiteOn('postgres', 'sms/app', () => import('../app.test.js'));
