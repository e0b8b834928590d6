export {
  AttemptWorkspace,
  logsDir,
  runsDir,
  WorkspaceError,
  type WorkspaceSettings,
} from './attempt-workspace.js';
export { type ResultRead, readResultFile } from './result-file.js';
export { sweepWorkspaces, type WorkspaceSweepReport } from './sweep.js';
