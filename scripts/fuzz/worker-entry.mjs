// Worker threads do not get tsx's loader for their entry file: register it, then load the worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
