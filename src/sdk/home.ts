/** The state folder every SDK call defaults to: the explicit one, then SEALWORK_HOME, then ~/.sealwork. */
export { resolveHome } from '../util/home.js';
