/**
 * Labels on every container the library creates. The bare `docker-python-sandbox` label marks a
 * container as ours: scripts and tests only ever remove containers that carry it. The others say
 * which Sandbox and which process own it, for orphan reaping.
 */
import { ownIdentity, parseNamespace, parsePid, parseStart, type Owner } from '../owner.js';

export const LABEL = 'docker-python-sandbox';
export const SANDBOX_LABEL = `${LABEL}.sandbox`;
export const OWNER_PID_LABEL = `${LABEL}.pid`;
export const OWNER_HOST_LABEL = `${LABEL}.host`;
/** When the owner process started (see lib/owner.ts), so that a reused pid is not taken for it. */
export const OWNER_START_LABEL = `${LABEL}.pid-start`;
/** The owner's pid namespace (see lib/owner.ts): pids of another namespace are not checked. */
export const OWNER_PIDNS_LABEL = `${LABEL}.pidns`;
/** The labels that name a container's owner process. */
export const OWNER_LABELS = [OWNER_HOST_LABEL, OWNER_PID_LABEL, OWNER_START_LABEL, OWNER_PIDNS_LABEL] as const;
/** What a container is for: 'runner' runs programs, 'netns' only holds a network namespace. */
export const ROLE_LABEL = `${LABEL}.role`;
export type ContainerRole = 'runner' | 'netns';

export function createLabels(sandboxId: string, role: ContainerRole): Record<string, string> {
  const owner = ownIdentity();
  return {
    [LABEL]: '',
    [ROLE_LABEL]: role,
    [SANDBOX_LABEL]: sandboxId,
    [OWNER_PID_LABEL]: String(owner.pid),
    [OWNER_HOST_LABEL]: owner.host,
    ...(owner.start !== undefined && { [OWNER_START_LABEL]: owner.start }),
    ...(owner.pidns !== undefined && { [OWNER_PIDNS_LABEL]: owner.pidns }),
  };
}

/**
 * The owner a container's labels name, or undefined when they name none (containers of versions
 * before owner labels, or labels that are not a host and a pid).
 */
export function ownerOfLabels(labels: Readonly<Record<string, string | undefined>>): Owner | undefined {
  const host = labels[OWNER_HOST_LABEL];
  const pid = parsePid(labels[OWNER_PID_LABEL]);
  if (host === undefined || host === '' || pid === undefined) return undefined;
  return { host, pid, start: parseStart(labels[OWNER_START_LABEL]), pidns: parseNamespace(labels[OWNER_PIDNS_LABEL]) };
}
