/**
 * The optimisers the playground offers: ONE list. The picker, the form, the URL, the colours and the
 * training loop all read it, so a new method (LookSAM, MSAM, ESAM, ...) is one entry here.
 */
import * as tf from '@tensorflow/tfjs';
import { AdaptiveGSAM, ASAM, GSAM, SAM } from 'flatminima';

/** The hyper-parameters a method may take besides the base optimiser and learning rate. */
export type HyperParameter = 'rho' | 'alpha' | 'gamma' | 'eta';

/** Values of every hyper-parameter (a method reads the ones it lists). */
export type HyperValues = Record<HyperParameter, number>;

/** One optimiser of the picker. */
export interface MethodEntry {
  /** The id used in the URL (`opt=sam`). */
  readonly id: string;
  /** The name shown in the picker and the legends. */
  readonly label: string;
  /** The hyper-parameters it uses, in the order the form shows them. */
  readonly uses: readonly HyperParameter[];
  /** Its defaults for those (the values a link without them means). */
  readonly defaults: Partial<HyperValues>;
  /** Whether its step has a perturbed pass (so `lastPerturbedLoss`/`lastSurrogateGap` mean something). */
  readonly perturbs: boolean;
  /** The optimiser to call `minimize` on, wrapping `base`. */
  build(base: tf.Optimizer, h: HyperValues): tf.Optimizer;
}

/** What each hyper-parameter means, for the form's labels and tooltips. */
export const HYPER_PARAMETERS: Readonly<Record<HyperParameter, { label: string; help: string }>> = {
  rho: { label: 'rho', help: 'radius of the neighbourhood the climb explores (>= 0)' },
  alpha: { label: 'alpha', help: 'GSAM: weight of the ascent along the part of g orthogonal to g_p (>= 0; 0 gives SAM)' },
  gamma: { label: 'gamma', help: 'Adaptive-GSAM: the climb scales by |w| + gamma (>= 0)' },
  eta: { label: 'eta', help: 'ASAM: T = |w| + eta on kernels (>= 0)' },
};

/** The methods, in picker order. */
export const METHODS: readonly MethodEntry[] = [
  {
    id: 'sgd',
    label: 'SGD',
    uses: [],
    defaults: {},
    perturbs: false,
    build: (base) => base,
  },
  {
    id: 'sam',
    label: 'SAM',
    uses: ['rho'],
    defaults: { rho: 0.05 },
    perturbs: true,
    build: (base, h) => new SAM({ base, rho: h.rho }),
  },
  {
    id: 'asam',
    label: 'ASAM',
    uses: ['rho', 'eta'],
    defaults: { rho: 0.5, eta: 0.01 },
    perturbs: true,
    build: (base, h) => new ASAM({ base, rho: h.rho, eta: h.eta }),
  },
  {
    id: 'gsam',
    label: 'GSAM',
    uses: ['rho', 'alpha'],
    defaults: { rho: 0.05, alpha: 0.1 },
    perturbs: true,
    build: (base, h) => new GSAM({ base, rho: h.rho, alpha: h.alpha }),
  },
  {
    id: 'agsam',
    label: 'Adaptive-GSAM',
    uses: ['rho', 'alpha', 'gamma'],
    defaults: { rho: 0.5, alpha: 0.1, gamma: 0.01 },
    perturbs: true,
    build: (base, h) => new AdaptiveGSAM({ base, rho: h.rho, alpha: h.alpha, gamma: h.gamma }),
  },
];

/** The fallback for a hyper-parameter no method default covers (only shown, never used). */
export const HYPER_FALLBACKS: Readonly<HyperValues> = { rho: 0.05, alpha: 0.1, gamma: 0.01, eta: 0.01 };

/** The entry with `id`; throws a RangeError naming the ids allowed. */
export function methodById(id: string): MethodEntry {
  const m = METHODS.find((entry) => entry.id === id);
  if (m === undefined) throw new RangeError(`method must be one of ${METHODS.map((e) => e.id).join(', ')}, got '${id}'`);
  return m;
}

/** The base optimisers the picker offers, by URL id. Momentum is 0.9, as in the report. */
export const BASE_OPTIMIZERS: Readonly<Record<string, { label: string; build: (learningRate: number) => tf.Optimizer }>> = {
  sgd: { label: 'SGD', build: (lr) => tf.train.sgd(lr) },
  momentum: { label: 'SGD + momentum 0.9', build: (lr) => tf.train.momentum(lr, 0.9) },
  adam: { label: 'Adam', build: (lr) => tf.train.adam(lr) },
};
