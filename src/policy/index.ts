export { type Admitted, PolicyGate, type PolicyGateOptions, secretVariables } from './admit.js';
export { loadPolicy, type PolicyFlags, parsePolicy, readPolicyFile } from './load.js';
export {
  defaultLimits,
  defaultMaxLimits,
  type NetworkMode,
  networkModes,
  type SandboxPolicy,
  type SandboxPolicyInput,
  sandboxPolicySchema,
} from './schema.js';
