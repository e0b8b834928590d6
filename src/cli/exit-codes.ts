/** The exit status of a worker that stopped for a fault (bad input exits 2). Light: named in help. */
export const workerFaultExitCode = 1;
