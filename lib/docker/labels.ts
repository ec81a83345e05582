/**
 * Labels on every container the library creates. The bare `docker-python-sandbox` label marks a
 * container as ours: scripts and tests only ever remove containers that carry it. The others say
 * which Sandbox and which process own it, for orphan reaping.
 */
import { hostname } from 'node:os';

export const LABEL = 'docker-python-sandbox';
export const SANDBOX_LABEL = `${LABEL}.sandbox`;
export const OWNER_PID_LABEL = `${LABEL}.pid`;
export const OWNER_HOST_LABEL = `${LABEL}.host`;
/** What a container is for: 'runner' runs programs, 'netns' only holds a network namespace. */
export const ROLE_LABEL = `${LABEL}.role`;
export type ContainerRole = 'runner' | 'netns';

export function createLabels(sandboxId: string, role: ContainerRole): Record<string, string> {
  return {
    [LABEL]: '',
    [ROLE_LABEL]: role,
    [SANDBOX_LABEL]: sandboxId,
    [OWNER_PID_LABEL]: String(process.pid),
    [OWNER_HOST_LABEL]: hostname(),
  };
}
