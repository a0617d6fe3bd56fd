/**
 * Times the DUIAD training step (two views of a batch through the ResNet encoder, InfoNCE,
 * rotation and vMF entropy terms, backward, SGD) in the default (NCHW) memory layout and in
 * channels-last, alternating the two in every round.
 *
 * Usage: node dist/benchmarks/engine/layout.js [--rounds 3] [--steps 3]
 */
import { ResNet, resnetPresets, type ResNetPreset } from '../../src/models/resnet.js';
import { entropyLoss, infoNce } from '../../src/methods/duiad/objective.js';
import {
  Generator,
  Linear,
  SGD,
  channelsLast,
  crossEntropy,
  randint,
  randn,
  setNumThreads,
  tidy,
} from '../../src/torch/index.js';

interface Case {
  encoder: ResNetPreset;
  channels: number;
  side: number;
}

const cases: Case[] = [
  { encoder: 'tiny', channels: 3, side: 32 },
  { encoder: 'tiny', channels: 1, side: 28 },
  { encoder: 'small', channels: 3, side: 32 },
  { encoder: 'small', channels: 1, side: 28 },
];

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

/** A DUIAD-shaped model (encoder, two-layer projection, rotation head) in one layout. */
function build(c: Case, cl: boolean) {
  const g = new Generator(0);
  const encoder = new ResNet(
    { inChannels: c.channels, ...resnetPresets[c.encoder], channelsLast: cl },
    g,
  );
  const f = encoder.features;
  const head1 = new Linear(f, f, { generator: g });
  const head2 = new Linear(f, 128, { generator: g });
  const rotation = new Linear(f, 4, { generator: g });
  const params = [encoder, head1, head2, rotation].flatMap((m) => m.parameters());
  const sgd = new SGD(params, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  return { encoder, head1, head2, rotation, sgd };
}

/** Seconds per training step on a batch of 256 images (512 views). */
function timeSteps(c: Case, cl: boolean, steps: number): number {
  const m = build(c, cl);
  const step = () =>
    tidy(() => {
      const raw = randn([512, c.channels, c.side, c.side]);
      const x = cl ? channelsLast(raw) : raw;
      const h = m.encoder.forward(x);
      const z = m.head2.forward(m.head1.forward(h).relu());
      const nce = infoNce(z.narrow(0, 0, 256), z.narrow(0, 256, 256), 0.2);
      const rot = crossEntropy(m.rotation.forward(h), randint(0, 4, [512]));
      const loss = nce.add(rot).add(entropyLoss(h, 'vmf').mul(5));
      m.sgd.zeroGrad();
      loss.backward();
      m.sgd.step();
      return loss.item();
    });
  step();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) step();
  const seconds = (performance.now() - t0) / 1000 / steps;
  m.sgd.dispose();
  for (const mod of [m.encoder, m.head1, m.head2, m.rotation]) mod.dispose();
  return seconds;
}

const rounds = flag('--rounds', 3);
const steps = flag('--steps', 3);
setNumThreads(2);
for (const c of cases) {
  const times: { nchw: number[]; cl: number[] } = { nchw: [], cl: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which layout goes first, so drifting load hits both alike.
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const cl of order) (cl ? times.cl : times.nchw).push(timeSteps(c, cl, steps));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const a = median(times.nchw);
  const b = median(times.cl);
  process.stdout.write(
    JSON.stringify({
      encoder: c.encoder,
      input: `${c.channels}x${c.side}x${c.side}`,
      nchwSecondsPerStep: +a.toFixed(3),
      channelsLastSecondsPerStep: +b.toFixed(3),
      speedup: +(a / b).toFixed(2),
    }) + '\n',
  );
}
