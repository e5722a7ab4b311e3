import * as z from 'zod';
import { definePlugin } from '../../sdk/index.ts';

/**
 * The workspace boundary is the kernel's now (kernel/confinement.ts): no composition can leave it out.
 * This plugin stays so that harness manifests and settings written for it keep working: its
 * `protectedPaths` setting is read by the kernel when `permissions.protectedPaths` is not set.
 */
export default definePlugin({
  config: z.strictObject({
    /** Deprecated: use `permissions.protectedPaths`. */
    protectedPaths: z.array(z.string()).optional(),
  }),
  activate() {},
});
