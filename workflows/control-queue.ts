/**
 * Each host serves a second, small queue beside its own: the control queue. Containers never
 * fill its slots, so a request to abort a running step reaches the host at once even when every
 * container slot of the host queue is taken. Derived from the host queue by name, so that
 * workflows need no more from a host than its queue.
 */
export function controlQueueFor(hostQueue: string): string {
  return `${hostQueue}-control`;
}
