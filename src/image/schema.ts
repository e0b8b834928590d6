/** The `image:` field of a step, as the pipeline file and the activity input check it (shape only). */
import { z } from 'zod';
import { parseImageReference } from './reference.js';

export const imageReferenceSchema = z
  .string({
    error: 'must be an image reference, e.g. registry.example/team/tool:1.4 or oci:/srv/images/tool:1.4',
  })
  .superRefine((text, ctx) => {
    const parsed = parseImageReference(text);
    if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
  });
