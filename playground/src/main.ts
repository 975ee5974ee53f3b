/**
 * The page: builds the form from the settings table, keeps the URL hash in step with the settings,
 * runs the session (play, pause, step, reset) and redraws the views.
 */
import 'uplot/dist/uPlot.min.css';
import * as tf from '@tensorflow/tfjs';
import { wasmTrainingKernelsRegistered } from 'flatminima/wasm-kernels';
import { chooseBackend } from './backend.js';
import { DATASETS } from './datasets.js';
import { BASE_OPTIMIZERS, METHODS, methodById } from './methods.js';
import {
  activeFields,
  allowedValues,
  crossCheck,
  FIELDS,
  fieldText,
  fromHash,
  parseField,
  toHash,
  withField,
  type FieldSpec,
  type Settings,
} from './settings.js';
import { Session } from './trainer.js';
import { BoundaryView } from './views/boundary.js';
import { CHARTS, LiveChart } from './views/charts.js';

/** Milliseconds of training per animation frame (a frame is ~16.7 ms at 60 Hz). */
const STEP_BUDGET_MS = 12;
/** Side of a decision-boundary canvas in CSS pixels (style.css sets the same). */
const BOUNDARY_CSS_PIXELS = 320;
/** The views are redrawn at most this often while playing (20 Hz: smooth, and most time trains). */
const RENDER_INTERVAL_MS = 50;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`playground: element #${id} is missing from index.html`);
  return el as T;
};

/** Labels of the values of a choice field. */
function choiceLabel(f: FieldSpec, value: string): string {
  if (f.prop === 'opt') return methodById(value).label;
  if (f.prop === 'data') return DATASETS.find((d) => d.id === value)!.label;
  if (f.prop === 'base') return BASE_OPTIMIZERS[value]!.label;
  return value;
}

class Playground {
  private settings: Settings;
  private session: Session | null = null;
  private running = false;
  private renders = 0;
  private lastRender = 0;
  private backend = 'starting';
  private boundaries: BoundaryView[] = [];
  private charts: LiveChart[] = [];
  private fieldErrors = new Map<string, string>();
  private notices: string[] = [];

  constructor() {
    const { settings, problems } = fromHash(location.hash);
    this.settings = settings;
    this.notices = problems;
  }

  async start(): Promise<void> {
    const choice = await chooseBackend(this.settings.backend);
    this.backend = choice.name;
    $('backend').textContent = `Backend: ${choice.detail}`;
    $('backend').dataset.backend = choice.name;
    $('play').addEventListener('click', () => this.setRunning(!this.running));
    $('step').addEventListener('click', () => {
      this.setRunning(false);
      this.advance(1);
      this.render();
    });
    $('reset').addEventListener('click', () => this.rebuild());
    $<HTMLFormElement>('settings').addEventListener('submit', (e) => e.preventDefault());
    window.addEventListener('hashchange', () => {
      if (location.hash.replace(/^#/, '') === toHash(this.settings)) return;
      const { settings, problems } = fromHash(location.hash);
      this.settings = settings;
      this.notices = problems;
      this.fieldErrors.clear();
      this.rebuild();
    });
    this.rebuild();
  }

  /** A fresh session for the current settings: step 0, the form, the URL and the views redone. */
  private rebuild(): void {
    this.session?.dispose();
    this.session = new Session(this.settings);
    history.replaceState(null, '', `#${toHash(this.settings)}`);
    this.buildForm();
    this.buildViews();
    this.render();
  }

  private setRunning(on: boolean): void {
    this.running = on;
    $('play').textContent = on ? 'Pause' : 'Play';
    $('play').setAttribute('aria-pressed', String(on));
    if (on) requestAnimationFrame(() => this.frame());
    // A pause lands between two frames, after steps the last render may not have shown.
    else this.render();
  }

  private frame(): void {
    if (!this.running) return;
    const t0 = performance.now();
    while (this.running && performance.now() - t0 < STEP_BUDGET_MS) this.advance(1);
    if (!this.running || performance.now() - this.lastRender >= RENDER_INTERVAL_MS) this.render();
    if (this.running) requestAnimationFrame(() => this.frame());
  }

  /** `n` steps; a loss that is no longer finite stops the run with a message. */
  private advance(n: number): void {
    const s = this.session!;
    for (let i = 0; i < n; i++) {
      s.advance();
      const bad = s.history.findIndex((h) => !Number.isFinite(h.at(-1)!.trainLoss));
      if (bad >= 0) {
        this.setRunning(false);
        this.notices = [
          `${s.trainers[bad]!.method.label} diverged by step ${s.step}: the training loss is not finite. Lower the learning rate or rho, then reset.`,
        ];
        this.showMessages();
        return;
      }
    }
  }

  private buildForm(): void {
    const form = $<HTMLFormElement>('settings');
    form.replaceChildren();
    const active = new Set(activeFields(this.settings).map((f) => f.key));
    const groups: [string, (f: FieldSpec) => boolean][] = [
      ['Data', (f) => ['data', 'n', 'noise', 'test', 'seed'].includes(f.key)],
      ['Network and training', (f) => ['width', 'depth', 'batch', 'every', 'race', 'backend'].includes(f.key)],
      [this.settings.race ? 'Optimiser A' : 'Optimiser', (f) => f.side === 'a'],
      ['Optimiser B', (f) => f.side === 'b'],
    ];
    for (const [title, member] of groups) {
      const fields = FIELDS.filter((f) => member(f) && active.has(f.key));
      if (fields.length === 0) continue;
      const set = document.createElement('fieldset');
      const legend = document.createElement('legend');
      legend.textContent = title;
      set.append(legend, ...fields.map((f) => this.fieldRow(f)));
      form.append(set);
    }
    this.showMessages();
  }

  private fieldRow(f: FieldSpec): HTMLElement {
    const row = document.createElement('label');
    row.className = 'field';
    const name = document.createElement('span');
    name.textContent = f.label.replace(' (B)', '');
    row.title = f.help === undefined ? allowedValues(f.kind) : `${f.help}; ${allowedValues(f.kind)}`;
    let input: HTMLInputElement | HTMLSelectElement;
    const text = fieldText(this.settings, f);
    if (f.prop === 'race') {
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = this.settings.race;
      input = box;
    } else if (f.kind.type === 'choice') {
      const select = document.createElement('select');
      for (const value of f.kind.choices) select.add(new Option(choiceLabel(f, value), value, false, value === text));
      input = select;
    } else {
      const box = document.createElement('input');
      box.type = 'text';
      box.inputMode = f.kind.integer ? 'numeric' : 'decimal';
      box.value = text;
      box.size = 7;
      input = box;
    }
    input.name = f.key;
    input.id = `field-${f.key.replace('.', '-')}`;
    input.addEventListener('change', () => this.onFieldChange(f, input));
    const error = document.createElement('span');
    error.className = 'field-error';
    error.id = `error-${f.key.replace('.', '-')}`;
    input.setAttribute('aria-describedby', error.id);
    row.append(name, input, error);
    return row;
  }

  /** A value typed or picked: applied (the run restarts) if valid, else refused with a message. */
  private onFieldChange(f: FieldSpec, input: HTMLInputElement | HTMLSelectElement): void {
    const text = input instanceof HTMLInputElement && input.type === 'checkbox' ? (input.checked ? '1' : '0') : input.value;
    const parsed = parseField(f.key, text);
    let message: string | null = parsed.ok ? null : parsed.message;
    let next: Settings | null = null;
    if (parsed.ok) {
      next = withField(this.settings, f.key, parsed.value);
      message = crossCheck(next);
    }
    if (message !== null || next === null) {
      this.fieldErrors.set(f.key, `${message}; the run goes on with ${f.label} = ${fieldText(this.settings, f)}`);
      input.setAttribute('aria-invalid', 'true');
      this.showMessages();
      return;
    }
    this.fieldErrors.clear();
    this.notices = [];
    this.settings = next;
    this.rebuild();
  }

  private showMessages(): void {
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('.field-error'))) el.textContent = '';
    for (const [key, message] of this.fieldErrors) {
      const el = document.getElementById(`error-${key.replace('.', '-')}`);
      if (el !== null) el.textContent = message;
    }
    const box = $('messages');
    box.replaceChildren(
      ...[...this.fieldErrors.values(), ...this.notices].map((m) => {
        const p = document.createElement('p');
        p.textContent = m;
        return p;
      }),
    );
    box.hidden = box.childElementCount === 0;
  }

  private buildViews(): void {
    const s = this.session!;
    const labels = s.trainers.map((t, i) => (s.trainers.length > 1 ? `${'AB'[i]}: ${t.method.label}` : t.method.label));
    const boxes = $('boundaries');
    boxes.replaceChildren();
    this.boundaries = s.trainers.map((_, i) => {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      // As many pixels as the screen shows (320 CSS pixels): more would only cost rasterisation time.
      canvas.width = Math.round(BOUNDARY_CSS_PIXELS * (window.devicePixelRatio || 1));
      canvas.height = canvas.width;
      canvas.id = `boundary-${'ab'[i]}`;
      const caption = document.createElement('figcaption');
      caption.textContent = labels[i]!;
      // The method's colour in the package's plots, as a swatch before the name (style.css).
      caption.style.setProperty('--method-colour', s.trainers[i]!.method.colour);
      figure.append(canvas, caption);
      boxes.append(figure);
      return new BoundaryView(canvas);
    });
    for (const c of this.charts) c.destroy();
    const charts = $('charts');
    charts.replaceChildren();
    this.charts = CHARTS.map((spec) => {
      const div = document.createElement('div');
      div.className = 'chart';
      charts.append(div);
      return new LiveChart(
        div,
        spec,
        s.trainers.map((t, i) => ({ label: labels[i]!, perturbs: t.method.perturbs })),
      );
    });
  }

  private render(): void {
    const s = this.session!;
    s.trainers.forEach((t, i) => this.boundaries[i]!.draw(t.boundary(), s.data.numClasses, s.data.bounds, s.data.train, s.data.test));
    for (const c of this.charts) c.update(s);
    $('step-count').textContent = String(s.step);
    const latest = s.history.map((h) => h.at(-1)!);
    $('metrics').textContent = latest
      .map(
        (r, i) =>
          `${s.trainers.length > 1 ? `${'AB'[i]}: ` : ''}train loss ${r.trainLoss.toFixed(4)}, test accuracy ${(100 * r.testAccuracy).toFixed(1)} % (step ${r.step})`,
      )
      .join(' · ');
    this.renders += 1;
    this.lastRender = performance.now();
  }

  /** What the tests and the benchmark read (a copy; changing it changes nothing). */
  snapshot(): object {
    const s = this.session;
    return JSON.parse(
      JSON.stringify({
        step: s?.step ?? 0,
        running: this.running,
        renders: this.renders,
        backend: this.backend,
        tfBackend: tf.getBackend(),
        trainingKernels: tf.getBackend() === 'wasm' && wasmTrainingKernelsRegistered(),
        settings: this.settings,
        hash: toHash(this.settings),
        methods: METHODS.map((m) => m.id),
        history: s?.history ?? [],
        measurements:
          s?.measurements.map((ms) => ms.map((m) => ({ step: m.step, sigmaMax: m.sigmaMax, sliceLosses: m.slice.losses }))) ?? [],
        numTensors: tf.memory().numTensors,
      }),
    );
  }
}

const playground = new Playground();
(window as unknown as { flatminimaPlayground: { state(): object } }).flatminimaPlayground = { state: () => playground.snapshot() };
playground.start().then(
  () => document.body.setAttribute('data-ready', 'true'),
  (e: unknown) => {
    $('messages').hidden = false;
    $('messages').textContent = `The playground could not start: ${e instanceof Error ? e.message : String(e)}`;
    console.error(e);
  },
);
