/** One container as `state` and `list --format=json` describe it (OCI state, plus runsc's extras). */
export interface ContainerState {
  id: string;
  /** PID of the sandbox (runsc) or of the container's init (runc, crun); 0 or -1 when stopped. */
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped' | string;
  bundle: string;
  created?: string;
  owner?: string;
  annotations?: Record<string, string>;
}

export interface RuntimeVersion {
  /** The runtime's own version line, for example `runsc version 0.0~20221219.0`. */
  version: string;
  /** The OCI spec version it implements, when it says. */
  spec?: string;
}
