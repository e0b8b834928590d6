/**
 * The containers this process is running right now. Cleanup consults it so that a sweep never
 * aborts a container that a live activity attempt owns.
 */
export class LiveContainers {
  private readonly ids = new Set<string>();

  add(id: string): void {
    this.ids.add(id);
  }

  delete(id: string): void {
    this.ids.delete(id);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }
}
