/**
 * A Compose file or command-line problem found before anything is created: the message is
 * complete and printed as is (the CLI exits 1, as docker compose does for a bad project).
 */
export class ComposeError extends Error {
  override name = 'ComposeError';
}

/** No Compose file was given or found: commands that can work from a project name go on. */
export class NoConfigFileError extends ComposeError {
  override name = 'NoConfigFileError';
}

/** A `${...}` that does not parse; `template` is the whole text it stands in. */
export class TemplateError extends ComposeError {
  override name = 'TemplateError';
  constructor(readonly template: string) {
    super(`Invalid template: "${template}"`);
  }
}
