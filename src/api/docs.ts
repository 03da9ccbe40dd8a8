/**
 * The interactive API reference at /docs: Swagger UI (@fastify/swagger-ui, its assets served from
 * node_modules, nothing from a CDN) over the very document /openapi.json serves (`app.swagger()`).
 */
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { DOCS_PATH } from '../contract/paths.js';

/**
 * What the page needs and no more: its scripts and style sheets from this origin, the images that
 * Swagger UI's CSS and logo inline as data: URIs, and fetch to this origin (the document and "Try it
 * out"). No inline script or style, no eval, no frames, no forms, no other origin.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerApiReference(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PATH,
    staticCSP: DOCS_CSP,
    // validatorUrl is left unset: the plugin then passes null, so no badge is fetched from validator.swagger.io.
    theme: { title: 'Outpaint API reference' },
    uiConfig: {
      // The base layout: the reference alone. The standalone one adds a top bar to explore other URLs,
      // whose Swagger logo is an SVG with an inline <style> (which the CSP would have to allow).
      layout: 'BaseLayout',
      deepLinking: true,
      docExpansion: 'list',
      tryItOutEnabled: true,
      displayRequestDuration: true,
    },
  });
}
