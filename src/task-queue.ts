/**
 * The shared task queue's default name. A module of its own, with no imports, so that the
 * client and the CLI's client commands can name it without loading the worker (its native
 * bridge alone costs most of a second and ~70 MiB at start).
 */
export const defaultTaskQueue = 'temporal-runsc';
