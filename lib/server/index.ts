/**
 * `docker-python-sandbox/server`: the HTTP service for embedding. createServer() makes a Sandbox
 * and a node:http server for it; createHandler() is the request handler alone, to mount in an
 * existing app.
 */
export { createServer, ServiceOptionsError, type SandboxService, type ServiceOptions } from './server.js';
export { createHandler, type HandlerOptions, type RequestHandler } from './handler.js';
