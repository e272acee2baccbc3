import { defineCodes } from './define.js';

/** Codes shared by every domain: files, addresses, ports, routes, internal errors. */
export const CORE_CODES = defineCodes('core', {
  FILE_NOT_FOUND: 'A file or folder the operation needs does not exist.',
  FILE_ACCESS_DENIED: 'A file or folder exists but the permissions forbid the operation.',
  FILE_IS_DIRECTORY: 'A file was expected but the path names a folder.',
  FILE_IO_ERROR: 'Reading or writing a file failed for another reason (the cause says which).',
  OUTPUT_EXISTS: 'The output path already exists and would be overwritten (pass --force to allow it).',
  OUTPUT_IS_INPUT: 'The output path is the input itself.',
  ADDRESS_INVALID: ['A value that must be a 20-byte hex Ethereum address is not one.', 400],
  PORT_IN_USE: 'The port a server should listen on is already taken.',
  NOT_FOUND: ['The HTTP route does not exist.', 404],
  INTERNAL: ['An unexpected error (a bug); rerun with SEALWORK_DEBUG=1 for the stack.', 500],
});
