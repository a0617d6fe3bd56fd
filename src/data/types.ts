/**
 * The in-memory form every dataset reader returns.
 */

/**
 * A labelled set of same-sized 8-bit images, as read from disk.
 *
 * `images` holds `count` images in the layout `[count, channels, height, width]`
 * (NCHW: all of one image's first channel row by row, then its next channel, then the next
 * image), one byte per pixel, 0..255 as stored in the file; it has exactly
 * `count * channels * height * width` bytes. `labels[i]` is the class index of image `i`
 * (0-based, as the dataset numbers its classes); `labels.length === count`.
 *
 * Readers return freshly allocated arrays that the caller owns.
 */
export interface ImageSet {
  /** Pixels, `[count, channels, height, width]`, uint8. */
  images: Uint8Array;
  /** Class index of each image, `[count]`. */
  labels: Int32Array;
  /** Number of images. */
  count: number;
  /** Channels per image: 1 for grey (MNIST), 3 for RGB (CIFAR, in R, G, B order). */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
}

/** Which half of a dataset's standard train/test split to read. */
export type Split = 'train' | 'test';

/** Bytes of one image of `set`: `channels * height * width`. */
export function imageBytes(set: Pick<ImageSet, 'channels' | 'height' | 'width'>): number {
  return set.channels * set.height * set.width;
}
