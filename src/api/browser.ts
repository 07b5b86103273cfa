/** What the renderer may import: the contract, the route map and the client. Nothing Node-only. */
export * from './contract.js';
export * from './routes.js';
export * from './client.js';
export * from './ipc-transport.js';
// Pure text helpers the policy editor shares with the core (no Node, no DOM).
export { joinPolicies, offsetOf, placeProblem, POLICY_SEPARATOR, splitPolicies, type PlacedProblem, type PolicySpan, type ProblemAt } from '../authz/policy-text.js';
