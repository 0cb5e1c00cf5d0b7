import type { ImageSummary } from '../spec/engine.js';
import type { ImageRuntimeConfig } from '../spec/oci-image.js';
import type { ImageRecord } from './images.js';

/** Go's zero time, which dockerd prints for times it does not have. */
export const zeroTime = '0001-01-01T00:00:00Z';

/**
 * An image's container defaults as dockerd prints them: its container.Config struct, every
 * field present in Go's order, with nulls and empty strings where the image says nothing and
 * the `omitempty` fields left out.
 */
export function dockerConfig(c: ImageRuntimeConfig | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  const out: Record<string, unknown> = {
    Hostname: '',
    Domainname: '',
    User: cfg.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
  };
  if (cfg.ExposedPorts && Object.keys(cfg.ExposedPorts).length > 0)
    out.ExposedPorts = cfg.ExposedPorts;
  out.Tty = false;
  out.OpenStdin = false;
  out.StdinOnce = false;
  out.Env = cfg.Env ?? null;
  out.Cmd = cfg.Cmd ?? null;
  if (cfg.Healthcheck !== undefined && cfg.Healthcheck !== null) out.Healthcheck = cfg.Healthcheck;
  if (cfg.ArgsEscaped) out.ArgsEscaped = true;
  out.Image = '';
  out.Volumes = cfg.Volumes ?? null;
  out.WorkingDir = cfg.WorkingDir ?? '';
  out.Entrypoint = cfg.Entrypoint ?? null;
  out.OnBuild = cfg.OnBuild ?? null;
  out.Labels = cfg.Labels ?? null;
  if (cfg.StopSignal) out.StopSignal = cfg.StopSignal;
  if (cfg.Shell && cfg.Shell.length > 0) out.Shell = cfg.Shell;
  return out;
}

/** The body of `GET /images/{name}/json` (API v1.47: no Container, ContainerConfig, VirtualSize). */
export function inspectBody(
  r: ImageRecord,
  graphDriver: { Name: string; Data: Record<string, string> },
): Record<string, unknown> {
  const c = r.config;
  const body: Record<string, unknown> = {
    Id: r.id,
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Parent: r.parent ?? '',
    Comment: c.comment ?? '',
    Created: c.created ?? zeroTime,
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: dockerConfig(c.config),
    Architecture: c.architecture,
  };
  if (c.variant) body.Variant = c.variant;
  body.Os = c.os;
  body.Size = r.size;
  body.GraphDriver = graphDriver;
  body.RootFS = { Type: 'layers', Layers: c.rootfs.diff_ids };
  body.Metadata = { LastTagTime: r.lastTagTime ?? zeroTime };
  return body;
}

function unixSeconds(iso: string | undefined): number {
  if (!iso) return 0;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

/**
 * The body of `GET /images/{name}/history`, newest first: one entry per history entry of the
 * config, with the size of the layer it made; the top entry carries the image's ID and tags,
 * the next ones those of its recorded parents, the rest `<missing>` (moby's ImageHistory).
 */
export function historyBody(
  r: ImageRecord,
  parentOf: (id: string) => ImageRecord | undefined,
): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  let layer = 0;
  for (const h of r.config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      size = r.layerSizes?.[layer] ?? 0;
      layer++;
    }
    entries.unshift({
      Comment: h.comment ?? '',
      Created: unixSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Id: '<missing>',
      Size: size,
      Tags: null,
    });
  }
  let img: ImageRecord | undefined = r;
  for (const e of entries) {
    if (!img) break;
    e.Id = img.id;
    e.Tags = img.repoTags.length > 0 ? img.repoTags : null;
    img = img.parent ? parentOf(img.parent) : undefined;
  }
  return entries;
}

/** One entry of `GET /images/json`. */
export function summary(r: ImageRecord, containers: ReadonlyMap<string, number>): ImageSummary {
  return {
    Containers: containers.get(r.id) ?? -1,
    Created: unixSeconds(r.config.created),
    Id: r.id,
    Labels: r.config.config?.Labels ?? {},
    ParentId: r.parent ?? '',
    RepoDigests: r.repoDigests,
    RepoTags: r.repoTags,
    SharedSize: -1,
    Size: r.size,
  };
}
