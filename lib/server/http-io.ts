/**
 * Reading requests and writing responses for the HTTP service: JSON bodies under a size cap
 * (refused from Content-Length before a byte is read when it says too much), JSON answers, and the
 * error shape every failure takes: `{ "error": { "code", "message", "issues"? } }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ValidationIssue } from '../errors.js';

/** A request the service refuses: its status, a stable code, a message to act on. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: readonly ValidationIssue[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, extra: { issues?: readonly ValidationIssue[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.issues = extra.issues;
    this.headers = extra.headers ?? {};
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const body = { error: { code: error.code, message: error.message, ...(error.issues === undefined ? {} : { issues: error.issues }) } };
  sendJson(res, error.status, body, error.headers);
}

/** Whether the request says its body is JSON (`application/json`, any charset), or text when `text/plain` is taken as JSON. */
function isJson(req: IncomingMessage, textIsJson: boolean): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  return /^application\/json\s*(;|$)/i.test(type) || (textIsJson && /^text\/plain\s*(;|$)/i.test(type));
}

/**
 * The request's JSON body. 415 unless it is declared JSON (or text/plain, with textIsJson: Piston's
 * npm client sends its JSON so); 413 when Content-Length (or the bytes
 * as they come) exceed maxBytes, without reading the rest; 400 when it does not parse.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, options: { textIsJson?: boolean } = {}): Promise<unknown> {
  if (!isJson(req, options.textIsJson === true))
    throw new HttpError(415, 'unsupported_media_type', 'The body must be JSON: send Content-Type: application/json.');
  const tooLarge = (): HttpError =>
    new HttpError(413, 'body_too_large', `The body is larger than ${maxBytes} bytes, this service's limit (code, stdin and files together).`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `The body is not valid JSON: ${(error as Error).message}`);
  }
}
