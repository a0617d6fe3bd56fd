/**
 * Reports: one self-contained HTML page about a model's verdicts on a set of images.
 */
export { renderReport } from './html.js';
export {
  buildReport,
  type BuildReportOptions,
  type BuiltReport,
  type ReportProgress,
} from './build.js';
export type { Label, ReportInput, ReportItem } from './types.js';
