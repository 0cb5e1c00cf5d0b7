import { ConflictError, NotModifiedError } from '../errors/index.js';
import type { ContainerStatus } from '../spec/engine.js';

/**
 * Lifecycle guards: each throws the error dockerd returns when the transition is not allowed
 * from `status`, and returns otherwise.
 */

export function canStart(status: ContainerStatus, id: string): void {
  if (status === 'running' || status === 'restarting')
    throw new NotModifiedError(`container ${id} is already running`);
  if (status === 'paused')
    throw new ConflictError('cannot start a paused container, try unpause instead');
  if (status === 'removing' || status === 'dead')
    throw new ConflictError(`container is marked for removal and cannot be started`);
}

export function canStop(status: ContainerStatus, id: string): void {
  if (status !== 'running' && status !== 'paused' && status !== 'restarting') {
    throw new NotModifiedError(`container ${id} is already stopped`);
  }
}

/** `ref` is the container as the client named it: dockerd's message repeats it. */
export function canKill(status: ContainerStatus, id: string, ref: string = id): void {
  if (status !== 'running' && status !== 'paused' && status !== 'restarting') {
    throw new ConflictError(`cannot kill container: ${ref}: container ${id} is not running`);
  }
}

export function canPause(status: ContainerStatus, id: string): void {
  if (status === 'paused') throw new ConflictError(`container ${id} is already paused`);
  if (status !== 'running') throw new ConflictError(`container ${id} is not running`);
}

export function canUnpause(status: ContainerStatus, id: string): void {
  if (status !== 'paused') throw new ConflictError(`container ${id} is not paused`);
}

export function canRemove(status: ContainerStatus, name: string, force: boolean): void {
  if (status === 'removing')
    throw new ConflictError(`removal of container ${name} is already in progress`);
  if (!force && (status === 'running' || status === 'restarting')) {
    throw new ConflictError(
      `cannot remove container "/${name}": container is running: stop the container before removing or force remove`,
    );
  }
  if (!force && status === 'paused') {
    throw new ConflictError(
      `cannot remove container "/${name}": container is paused: unpause the container before stopping or force remove`,
    );
  }
}

export function canAttach(status: ContainerStatus): void {
  if (status === 'paused')
    throw new ConflictError('You cannot attach to a paused container, unpause it first');
  if (status === 'exited' || status === 'dead')
    throw new ConflictError('You cannot attach to a stopped container, start it first');
}

export function canExec(status: ContainerStatus, id: string): void {
  if (status === 'paused')
    throw new ConflictError(`Container ${id} is paused, unpause the container before exec`);
  if (status !== 'running') throw new ConflictError(`container ${id} is not running`);
}
