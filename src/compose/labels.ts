/** The labels Docker Compose puts on what it creates; tools find projects by them. */
export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  environmentFile: 'com.docker.compose.project.environment_file',
  dependsOn: 'com.docker.compose.depends_on',
  image: 'com.docker.compose.image',
  version: 'com.docker.compose.version',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  slug: 'com.docker.compose.slug',
  replace: 'com.docker.compose.replace',
} as const;

/** The Docker Compose release whose behaviour and labels berth compose follows. */
export const COMPOSE_VERSION = '2.29.7';
