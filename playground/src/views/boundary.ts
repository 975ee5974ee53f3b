/**
 * The decision-boundary heat map: the model's class probabilities on the grid, coloured by class
 * and shaded by confidence, with the training points (white rim) and test points (black rim) on top.
 * Plain canvas 2-D drawing: a chart library would add nothing to putting pixels and circles.
 */
import type { Dataset } from 'flatminima';
import { GRID_SIZE } from '../trainer.js';

/** Colours of the classes (RGB), as the TensorFlow Playground's orange and blue, then green. */
export const CLASS_COLOURS: readonly [number, number, number][] = [
  [245, 147, 34],
  [8, 119, 189],
  [46, 160, 67],
];

/** Radius of a data point in CSS pixels. */
const POINT_RADIUS = 3;

/** One heat map on one canvas. */
export class BoundaryView {
  private readonly cells: HTMLCanvasElement;
  private readonly image: ImageData;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.cells = document.createElement('canvas');
    this.cells.width = GRID_SIZE;
    this.cells.height = GRID_SIZE;
    this.image = new ImageData(GRID_SIZE, GRID_SIZE);
  }

  /** Draws `probs` (GRID_SIZE² rows of `numClasses`) and the points of `train` and `test`. */
  draw(probs: Float32Array, numClasses: number, bounds: readonly [number, number, number, number], train: Dataset, test: Dataset): void {
    const px = this.image.data;
    for (let i = 0; i < GRID_SIZE * GRID_SIZE; i++) {
      let r = 0,
        g = 0,
        b = 0,
        top = 0;
      for (let c = 0; c < numClasses; c++) {
        const p = probs[i * numClasses + c]!;
        const [cr, cg, cb] = CLASS_COLOURS[c]!;
        r += p * cr;
        g += p * cg;
        b += p * cb;
        top = Math.max(top, p);
      }
      // Confidence 0 at a uniform prediction, 1 at a certain one: pale near the boundary.
      const confidence = (top - 1 / numClasses) / (1 - 1 / numClasses);
      const strength = 0.15 + 0.6 * confidence;
      px[4 * i] = 255 - (255 - r) * strength;
      px[4 * i + 1] = 255 - (255 - g) * strength;
      px[4 * i + 2] = 255 - (255 - b) * strength;
      px[4 * i + 3] = 255;
    }
    this.cells.getContext('2d')!.putImageData(this.image, 0, 0);

    const ctx = this.canvas.getContext('2d')!;
    const { width, height } = this.canvas;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.cells, 0, 0, width, height);
    const [x0, x1, y0, y1] = bounds;
    const scale = width / this.canvas.clientWidth || 1;
    const drawPoints = (ds: Dataset, rim: string): void => {
      ctx.lineWidth = scale;
      ctx.strokeStyle = rim;
      for (let i = 0; i < ds.size; i++) {
        const cx = ((ds.x[2 * i]! - x0) / (x1 - x0)) * width;
        const cy = ((y1 - ds.x[2 * i + 1]!) / (y1 - y0)) * height;
        const [cr, cg, cb] = CLASS_COLOURS[ds.y[i]!]!;
        ctx.fillStyle = `rgb(${cr},${cg},${cb})`;
        ctx.beginPath();
        ctx.arc(cx, cy, POINT_RADIUS * scale, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
    };
    drawPoints(train, '#ffffff');
    drawPoints(test, '#000000');
  }
}
