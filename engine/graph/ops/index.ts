// The op set. Each op is a function that traces one node (or a few, for composites) into the graph
// of its inputs; see the files beside this one for each op's inference, lowering and gradient.
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './nn.js';
export * from './fused.js';
export * from './adamw.js';
