/**
 * The body of `POST /v1/run`: what a run takes, in JSON. Strict: an unknown key is a 400, not
 * silently ignored. File contents are text, or `{ "base64": "..." }` for bytes. The values' own
 * rules (limits, paths that stay in the work dir) are the library's: `sandbox.run()` checks them
 * before it uses a container, and its RunParamsError becomes a 400 naming them.
 */
import { z } from 'zod';
import type { RunParamsObject, RunResult } from '../index.js';
import { HttpError } from './http-io.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const fileContent = z.union([
  z.string(),
  z.strictObject({
    base64: z.string().refine((text) => text.length % 4 === 0 && BASE64.test(text), { error: 'must be base64 (A-Z a-z 0-9 + /, padded with =)' }),
  }),
]);

const runBody = z.strictObject({
  code: z.string({ error: 'must be a string of Python code' }),
  stdin: z.string({ error: 'must be a string' }).optional(),
  argv: z.array(z.string(), { error: 'must be an array of strings' }).optional(),
  env: z.record(z.string(), z.string(), { error: 'must be an object of string values' }).optional(),
  files: z.record(z.string(), fileContent, { error: 'must be an object of paths to text or { "base64": "..." }' }).optional(),
  timeoutMs: z.number({ error: 'must be a number of milliseconds' }).optional(),
  memoryLimitMb: z.number({ error: 'must be a number of MiB' }).optional(),
  collect: z.array(z.string(), { error: 'must be an array of paths or globs' }).optional(),
});

export type RunBody = z.infer<typeof runBody>;

/** The run's parameters from a request body; HttpError 400 listing every problem otherwise. */
export function parseRunBody(body: unknown): RunParamsObject {
  const parsed = runBody.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new HttpError(400, 'invalid_request', 'The request body is not a valid run: see issues.', { issues });
  }
  const { files, ...rest } = parsed.data;
  const params: RunParamsObject = { ...rest };
  if (files !== undefined) {
    params.files = Object.fromEntries(
      Object.entries(files).map(([path, content]) => [path, typeof content === 'string' ? content : Buffer.from(content.base64, 'base64')]),
    );
  }
  return params;
}

/** A result as JSON: collected files as base64 strings. */
export function runResultJson(result: RunResult): Record<string, unknown> {
  return { ...result, files: Object.fromEntries(Object.entries(result.files).map(([path, bytes]) => [path, bytes.toString('base64')])) };
}
