/** Sizes for messages: the contract's wording (src/contract/rules.ts), shared with the page. */
export { megabytes } from '../contract/rules.js';
