import type { ContainerSummary } from '../client/client.js';
import type { ImageSummary } from '../spec/engine.js';
import { imageRows } from './commands/images.js';
import { containerRow } from './commands/ps.js';
import { renderRows } from './format.js';
import { humanSize } from './human.js';

/** A `/system/df` Volumes entry. */
export interface DfVolume {
  Name: string;
  Driver?: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

/**
 * `system df -v`: the docker CLI's four sections (images, containers, local volumes, build
 * cache), each a table under its title.
 */
export function verboseDf(df: {
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: DfVolume[] | null;
  BuildCache?: { Size: number }[] | null;
}): string {
  const images = renderRows(
    'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    imageRows(df.Images ?? [], true),
    {
      Repository: 'REPOSITORY',
      Tag: 'TAG',
      ID: 'IMAGE ID',
      CreatedSince: 'CREATED',
      Size: 'SIZE',
      SharedSize: 'SHARED SIZE',
      UniqueSize: 'UNIQUE SIZE',
      Containers: 'CONTAINERS',
    },
  );
  const containers = renderRows(
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    (df.Containers ?? []).map((c) => ({
      ...containerRow(c, true),
      Size: humanSize(c.SizeRw ?? 0),
    })),
    {
      ID: 'CONTAINER ID',
      Image: 'IMAGE',
      Command: 'COMMAND',
      LocalVolumes: 'LOCAL VOLUMES',
      Size: 'SIZE',
      RunningFor: 'CREATED',
      Status: 'STATUS',
      Names: 'NAMES',
    },
  );
  const volumes = renderRows(
    'table {{.Name}}\t{{.Links}}\t{{.Size}}',
    (df.Volumes ?? []).map((v) => ({
      Name: v.Name,
      Links: String(v.UsageData?.RefCount ?? 0),
      Size: humanSize(Math.max(0, v.UsageData?.Size ?? 0)),
    })),
    { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' },
  );
  const cache = (df.BuildCache ?? []).reduce((s, b) => s + b.Size, 0);
  return [
    'Images space usage:\n',
    images,
    'Containers space usage:\n',
    containers,
    'Local Volumes space usage:\n',
    volumes,
    `Build cache usage: ${humanSize(cache)}\n`,
    'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n',
  ].join('\n');
}
