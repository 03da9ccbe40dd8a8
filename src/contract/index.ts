/**
 * The wire contract of Kling's Image Expansion API as Outpaint speaks it: shapes, error codes, request
 * rules and paths. The API, the presenter, the SDK and the web page import it; it imports nothing but
 * TypeBox, so it runs in browsers too.
 */
export * from './errors.js';
export * from './geometry.js';
export * from './paths.js';
export * from './rules.js';
export * from './schemas.js';
