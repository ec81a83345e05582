/**
 * The playground's files (lib/server/playground/), served as they are: no build step, nothing from
 * a CDN. Read once, when a handler with the playground is made. A strict Content-Security-Policy:
 * the page loads only its own script and style, and shows images as data: URLs.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

export interface StaticFile {
  path: string;
  contentType: string;
  body: Buffer;
}

const FILES: readonly [path: string, file: string, contentType: string][] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/playground/playground.js', 'playground.js', 'text/javascript; charset=utf-8'],
  ['/playground/playground.css', 'playground.css', 'text/css; charset=utf-8'],
];

export function playgroundFiles(): StaticFile[] {
  return FILES.map(([path, file, contentType]) => ({ path, contentType, body: readFileSync(new URL(`./playground/${file}`, import.meta.url)) }));
}

export function sendStatic(res: ServerResponse, file: StaticFile): void {
  res.writeHead(200, {
    'Content-Type': file.contentType,
    'Content-Length': file.body.length,
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  });
  res.end(file.body);
}
