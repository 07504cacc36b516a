// Minimal ONNX models written by hand (protobuf wire format), so the tests and the benchmark page
// need no model file and no converter.

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

const key = (field, wire) => varint((field << 3) | wire);
const int = (field, n) => [...key(field, 0), ...varint(n)];
const bytes = (field, body) => [...key(field, 2), ...varint(body.length), ...body];
const str = (field, s) => bytes(field, [...new TextEncoder().encode(s)]);

function valueInfo(name, dims) {
  const shape = dims.flatMap((d) => bytes(1, int(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1), ...bytes(2, shape)]; // elem_type FLOAT, shape
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))]; // name, type { tensor_type }
}

/** `Y = Relu(X)` over float32 X of `dims`. */
export function reluModel(dims) {
  const node = [...str(1, 'X'), ...str(2, 'Y'), ...str(4, 'Relu')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'relu'),
    ...bytes(11, valueInfo('X', dims)),
    ...bytes(12, valueInfo('Y', dims)),
  ];
  const opset = [...str(1, ''), ...int(2, 13)];
  return Uint8Array.from([...int(1, 8), ...bytes(7, graph), ...bytes(8, opset)]);
}

/** `Y = MatMul(A, B)` over float32 A of [m, k] and B of [k, n]. */
export function matmulModel(m, k, n) {
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'Y'), ...str(4, 'MatMul')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'matmul'),
    ...bytes(11, valueInfo('A', [m, k])),
    ...bytes(11, valueInfo('B', [k, n])),
    ...bytes(12, valueInfo('Y', [m, n])),
  ];
  const opset = [...str(1, ''), ...int(2, 13)];
  return Uint8Array.from([...int(1, 8), ...bytes(7, graph), ...bytes(8, opset)]);
}
