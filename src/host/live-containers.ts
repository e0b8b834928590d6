import { publish } from '../metrics/events.js';

/**
 * The containers this process is running right now. Cleanup consults it so that a sweep never
 * aborts a container that a live activity attempt owns.
 */
export class LiveContainers {
  private readonly running = new Set<string>();

  add(id: string): void {
    this.running.add(id);
    publish('containers', { running: this.running.size });
  }

  delete(id: string): void {
    this.running.delete(id);
    publish('containers', { running: this.running.size });
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  /** The ids running now (a copy). */
  ids(): string[] {
    return [...this.running];
  }

  get size(): number {
    return this.running.size;
  }
}
