/**
 * A Compose file or command-line problem found before anything is created: the message is
 * complete and printed as is (the CLI exits 1, as docker compose does for a bad project).
 */
export class ComposeError extends Error {
  override name = 'ComposeError';
}
