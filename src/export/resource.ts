import os from 'node:os';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_HOST_NAME, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, SERVICE_NAME } from './names.ts';

/** host.name: the node's name where a DaemonSet passes it (NODE_NAME), else this host's name. */
export function agentResource(version: string, hostName: string = process.env.NODE_NAME || os.hostname()): Resource {
  return resourceFromAttributes({
    [ATTR_SERVICE_NAME]: SERVICE_NAME,
    [ATTR_SERVICE_VERSION]: version,
    [ATTR_HOST_NAME]: hostName,
  });
}
