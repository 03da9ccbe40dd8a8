/**
 * The web playground (src/web, built into dist/web by `npm run build`) served at `/` by the server
 * itself, with a strict Content-Security-Policy: scripts, styles and everything else from this origin
 * only (the page has no inline code and loads nothing from elsewhere); result images and their downloads
 * also from the public URL when it is another origin (e.g. localhost vs 127.0.0.1), and from the S3
 * endpoint when result links are presigned S3 URLs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../contract/errors.js';
import { WEB_PATH } from '../contract/paths.js';
import type { ResultUrlSigner } from '../tasks/result-urls.js';

/** dist/src/api/web-page.js → dist/web. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

export function contentSecurityPolicy(publicOrigin: string | null, linksOrigin: string | null = null): string {
  const other = [publicOrigin, linksOrigin].filter((o): o is string => o !== null).map((o) => ` ${o}`).join('');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // blob: for the picture being edited, data: for the empty favicon.
    `img-src 'self' blob: data:${other}`,
    `connect-src 'self'${other}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function registerWebPage(app: FastifyInstance, deps: { urls: ResultUrlSigner; linksOrigin?: string | null }): Promise<void> {
  if (!existsSync(`${WEB_ROOT}index.html`)) {
    app.get(WEB_PATH, { schema: { hide: true } }, async () => {
      throw new ApiError('NOT_FOUND', 'the web page is not built: run npm run build (npm install does it)');
    });
    return;
  }
  // Result links start with the public URL, which is known only once the server listens (port 0):
  // read it from a link when a page is served.
  const publicOrigin = (): string => new URL(deps.urls.sign('probe', Date.now())).origin;
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: WEB_PATH,
    // One route per built file (and `/` for index.html); anything else is the API's own 1203.
    wildcard: false,
    // Another plugin (a documentation UI) may bring its own copy of this one.
    decorateReply: false,
    // Revalidated on every load (ETag), so an upgrade shows at once.
    cacheControl: false,
    setHeaders(reply) {
      const origin = publicOrigin();
      reply.header('cache-control', 'no-cache');
      reply.header(
        'content-security-policy',
        contentSecurityPolicy(origin === `${reply.request.protocol}://${reply.request.host}` ? null : origin, deps.linksOrigin ?? null),
      );
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cross-origin-opener-policy', 'same-origin');
    },
  });
}
