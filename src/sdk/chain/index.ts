/** Chain SDK: the functions the CLI's chain commands are built on. */
export * from './common.js';
export * from './embedded.js';
export * from './wallet.js';
export * from './assets.js';
export * from './orders.js';
export * from './deals.js';
export * from './accounts.js';
export type * from './types.js';
