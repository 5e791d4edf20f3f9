export { Graph, Tensor, Node, type OpDef, type Attrs, type TensorType } from './graph.js';
export { type DType, type HalfDType, type Dim, type Shape, GraphBuildError, isFloat, isHalf, fmtShape, fromHalfBits, toFloat16Bits, toBfloat16Bits } from './shape.js';
export { emitOnnx, OPSET, type EmitResult } from './lowering.js';
export * as F from './ops/index.js';
