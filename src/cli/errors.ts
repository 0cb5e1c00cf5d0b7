import type { ClientError } from '../client/client.js';

/** "Error response from daemon: ..." as docker prints a server error. */
export function daemonMessage(err: ClientError): string {
  return err.statusCode === 0 ? err.message : `Error response from daemon: ${err.message}`;
}
