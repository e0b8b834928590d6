/** Durations live with the step schema (src/spec), which workflow code imports too. */
export { durationMs, durationPattern } from '../spec/duration.js';
