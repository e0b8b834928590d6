export { createBundle, parseBundleSpec } from './create-bundle.js';
export { type OciConfig, toOciConfig } from './oci.js';
export {
  type BundleSpec,
  type BundleSpecInput,
  bundleSpecSchema,
  type Limits,
  type Mount,
  minimumPidsLimit,
} from './spec.js';
