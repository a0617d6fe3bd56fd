/**
 * The input of a report: a model summary and its verdicts on a set of images, some of them
 * with a known label and with the bytes to show.
 */
import type { ScorerInfo, UnscoredImage } from '../detect/types.js';

/** What an image is known to be, when it is known. */
export type Label = 'normal' | 'anomaly';

/** One scored image in a report. */
export interface ReportItem {
  path: string;
  /** Anomaly score, higher for more anomalous (the model's own scale). */
  score: number;
  /** Conformal p-value, in (0, 1]. */
  pValue: number;
  /** The model's verdict, `score > threshold`. */
  isAnomaly: boolean;
  /** The true label, if known; with both labels present the report draws a ROC curve. */
  label?: Label;
  /** The encoded image (PNG, JPEG or WebP), shown as a thumbnail if this image is in a table. */
  image?: Uint8Array;
  /** The anomaly map as PNG bytes, shown beside the thumbnail. */
  map?: Uint8Array;
}

/** Everything `renderReport` draws. */
export interface ReportInput {
  info: ScorerInfo;
  items: readonly ReportItem[];
  /** Images that could not be scored, listed with their reason. */
  failed?: readonly UnscoredImage[];
  /** Rows in each of the tables of the most and the least anomalous images (default 8). */
  top?: number;
  /** The page title (default "duiad report"). */
  title?: string;
  /** When the report was made (default now). */
  createdAt?: Date;
}
