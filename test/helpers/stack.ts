/**
 * The whole local stack for end-to-end tests: a real anvil (random port), then SMS, storage and a
 * worker in-process under a temporary home. `const s = await startTestStack(); after(s.stop)`.
 */
import { startStack, type StartStackParameters, type Stack } from '../../src/sdk/stack/index.js';
import { startTestChain, type TestChain } from './chain.js';
import { tempDir } from './cli.js';

export interface TestStack {
  stack: Stack;
  chain: TestChain;
  home: string;
  stop(): Promise<void>;
}

export async function startTestStack(
  o: Omit<StartStackParameters, 'home' | 'chainUrl'> = {},
): Promise<TestStack> {
  const t = tempDir('sealwork-e2e-');
  const chain = await startTestChain({ home: t.dir });
  try {
    const stack = await startStack({ ...o, home: t.dir, chainUrl: chain.url });
    return {
      stack,
      chain,
      home: t.dir,
      async stop() {
        await stack.stop();
        await chain.stop();
        t.cleanup();
      },
    };
  } catch (e) {
    await chain.stop();
    t.cleanup();
    throw e;
  }
}
