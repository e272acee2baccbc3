/** test/sms/cli.test.ts on PostgreSQL (a throwaway cluster, see test/helpers/stores.ts). */
import { runSuiteOn } from '../../helpers/stores.js';

await runSuiteOn('postgres', 'sms/cli', () => import('../cli.test.js'));
