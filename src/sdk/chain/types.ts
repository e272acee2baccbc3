/** Types of the chain domain that SDK callers (the CLI among them) name in their own code. */
export type { OrderKind } from '../../chain/orders.js';
export type { ListOrdersFilter, PublishedOrder } from '../../chain/index.js';
