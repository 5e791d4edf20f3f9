export { Graph, Tensor, Node, type OpDef, type Attrs, type TensorType } from './graph.js';
export { type DType, type Dim, type Shape, GraphBuildError, isFloat, fmtShape } from './shape.js';
export { emitOnnx, OPSET, type EmitResult } from './lowering.js';
export * as F from './ops/index.js';
