// Compiled with `tsc --noEmit -p tests/types` by `npm test`: the declarations describe the API
// as the README uses it.
import { Engine, Tensor, isTmathError, type MatmulTiles, type MatmulTuning, type Stats, type Transfer } from 'tmath';

async function main(): Promise<number> {
  const engine = await Engine.create({ precision: 'float32', poolBudgetBytes: 256 << 20, memoryLimitBytes: 1 << 30, zeroOnReuse: true });
  engine.gpuDevice.lost.then(() => engine.recover());
  const shared = await Engine.fromDevice(engine.gpuDevice, { precision: 'float16' });
  shared.dispose();
  const elsewhere = await Engine.create({ gpu: navigator.gpu, powerPreference: 'high-performance' });
  elsewhere.dispose();
  const a: Tensor = engine.toDevice(new Float32Array(16), [4, 4]);
  const b = await engine.toDeviceAsync(engine.pool.zeros([4, 4]), [4, 4], { dtype: 'f32' });
  const c = engine.matmul(a, b);
  const h = engine.prepareTensor(c, 'half');
  const sum = engine.add(engine.relu(c), 1);
  const host = await sum.toHost();
  const kept = engine.tidy(() => engine.mul(a, 2));
  const report = await engine.profile(async () => (await kept.toHost())[0]);
  const stats: Stats = engine.stats();
  const perSubmission: number = stats.paramWrites + stats.bindGroups;
  const ledger: Transfer[] = engine.ledger();
  const buffer: GPUBuffer = h.gpuBuffer;
  const device: GPUDevice = engine.gpuDevice;
  engine.pool.put(a);
  try {
    engine.pool.get([-1]);
  } catch (e) {
    if (isTmathError(e) && e.code === 'InvalidShape') console.log(e.message);
  }
  await engine.synchronize();
  const tuning: MatmulTuning = await engine.tuneMatmul();
  const firstTiles: MatmulTiles | undefined = tuning.choices[0]?.tiles;
  engine.setMatmulTuning(engine.matmulTuning ?? tuning);
  const fixed = await Engine.create({ matmulTiles: firstTiles ?? '8x8x8' });
  fixed.dispose();
  const lost: string | null = engine.deviceLost;
  const recovered: boolean = await engine.recover();
  if (lost === null && recovered) throw new Error('recover() acts only after a loss');
  engine.dispose();
  return host.length + report.stats.copies + stats.pool.hits + ledger.length + buffer.size + (device ? 1 : 0);
}

void main();
