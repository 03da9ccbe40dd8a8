/** The engine's canvas follows the contract's geometry rule, which lives with the contract (the page uses it too). */
export { expansionGeometry, roundHalfEven, type ExpansionGeometry, type ExpansionRatios } from '../contract/geometry.js';
