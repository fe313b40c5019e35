"""rainbow_jelly: consecutive 25-frame clips of one underwater jellyfish video.

The source is one YouTube video (id P8Bit37hlsQ, the paper's footnote 1) that the
user saves by hand as `<manual_dir>/rainbow_jelly.mp4`. The builder decodes it
frame by frame with imageio's ffmpeg plugin (the whole video never sits in
memory), cuts consecutive, non-overlapping clips of 25 frames, crops each frame
to its centred min(H, W) square (360 x 360 from columns 140..500 of the
360 x 640 source, as the INR-V release does) and resizes it to 128 x 128 with
`tf.image.resize(method='bilinear', antialias=True)`, rounded and clipped to
uint8. A trailing remainder of fewer than 25 frames is dropped and its length
logged. The paper gets 34,526 clips.

Each example is `video`: uint8[25, 128, 128, 3] in [0, 255] and `video_id`:
int64, the clip's index in the video (clip i holds source frames 25i..25i+24).

  tfds build datasets/rainbow_jelly --manual_dir=DIR   # DIR/rainbow_jelly.mp4

A missing, empty, undecodable or too short file (or one without a video stream)
raises an error naming it and the problem; a truncated file is used as far as it
decodes, with a warning.
"""

import re

from absl import logging
import imageio.v3 as iio
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

VIDEO_FILENAME = 'rainbow_jelly.mp4'
YOUTUBE_URL = 'https://www.youtube.com/watch?v=P8Bit37hlsQ'
CLIP_FRAMES = 25
SIZE = 128


def center_square(frame: np.ndarray) -> np.ndarray:
  """Crops uint8[H, W, C] to its centred uint8[S, S, C], S = min(H, W)."""
  h, w = frame.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return frame[top : top + side, left : left + side]


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
  """Antialiased bilinear resize: uint8[T, H, W, 3] -> uint8[T, size, size, 3]."""
  resized = tf.image.resize(frames, (size, size), antialias=True).numpy()
  return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def ffmpeg_reason(error: BaseException) -> str:
  """One line from an imageio/ffmpeg exception, whose text holds ffmpeg's banner.

  Keeps the last two '[component @ 0x...] message' lines, else the last line.
  """
  text = str(error)
  if 'does not contain any stream' in text:
    return 'it holds no video stream'
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  messages = []
  for line in lines:
    match = re.match(r'^\[[^\]]+ @ 0x[0-9a-f]+\] (.*)$', line)
    if match and match.group(1) not in messages:
      messages.append(match.group(1))
  if messages:
    return '; '.join(messages[-2:])
  return lines[-1] if lines else type(error).__name__


def check_file(path: str) -> None:
  """Raises ValueError naming `path` unless it is a non-empty file."""
  if tf.io.gfile.isdir(path):
    raise ValueError(f'{path} is a folder; expected the video file itself.')
  try:
    size = tf.io.gfile.stat(path).length
  except tf.errors.OpError as e:
    raise ValueError(f'Cannot read video {path}: {e.message}') from None
  if size == 0:
    raise ValueError(f'Video {path} is empty (0 bytes); save it again.')


def iter_clips(path: str, clip_frames: int = CLIP_FRAMES):
  """Streams a video file as consecutive clips of centre-cropped frames.

  Args:
    path: local path of a video file that ffmpeg can decode.
    clip_frames: frames per clip.

  Yields:
    uint8[clip_frames, S, S, 3] in [0, 255], S = min(H, W) of the source.

  Raises:
    ValueError naming the file and the problem: a folder, an empty file, a
      file ffmpeg cannot decode (with ffmpeg's message, not its banner), one
      without a video stream, or fewer than `clip_frames` frames. A file that
      ends well before the length its header announces is decoded as far as
      it goes, with a warning.
  """
  check_file(path)
  buffer, num_frames, meta = [], 0, {}
  try:
    with iio.imopen(path, 'r', plugin='FFMPEG') as file:
      reader = file.legacy_get_reader()  # One ffmpeg process, closed below.
      try:
        meta = reader.get_meta_data()
        for frame in reader:
          buffer.append(center_square(frame[..., :3]))
          num_frames += 1
          if len(buffer) == clip_frames:
            yield np.stack(buffer)
            buffer = []
      finally:
        reader.close()
  except (OSError, RuntimeError, ValueError) as e:
    # ffmpeg's text is its banner and ~20 lines: keep the message, drop the rest.
    raise ValueError(
        f'Cannot decode video {path} after {num_frames} frames: {ffmpeg_reason(e)}'
    ) from None
  if num_frames < clip_frames:
    raise ValueError(
        f'Video {path} has {num_frames} frames; a clip needs {clip_frames}.'
    )
  _warn_if_truncated(path, num_frames, meta)
  if buffer:
    logging.warning(
        'Dropped the last %d frames of %s (%d frames in all): fewer than %d.',
        len(buffer), path, num_frames, clip_frames,
    )


def _warn_if_truncated(path: str, num_frames: int, meta: dict) -> None:
  """Warns when a file decodes to well under the frames its header announces."""
  try:
    expected = round(float(meta['duration']) * float(meta['fps']))
  except (KeyError, TypeError, ValueError, OverflowError):
    return
  if num_frames < 0.95 * expected - 2:
    logging.warning(
        'Video %s decoded to %d frames where its header announces about %d: '
        'a truncated file? Save it again to use all of it.',
        path, num_frames, expected,
    )


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for rainbow_jelly (see the module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Save the YouTube video {YOUTUBE_URL} (id P8Bit37hlsQ) as an .mp4 file named
`{VIDEO_FILENAME}` in the manual directory: by default
~/tensorflow_datasets/downloads/manual/{VIDEO_FILENAME}, or pass another folder
with `tfds build datasets/rainbow_jelly --manual_dir=DIR`. The paper used the
360 x 640 stream; for example, with yt-dlp (where YouTube's terms allow it):
  yt-dlp -f "bestvideo[height=360][ext=mp4]" -o {VIDEO_FILENAME} {YOUTUBE_URL}
Any resolution works: frames are centre-cropped to a square, then resized.
"""

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(CLIP_FRAMES, SIZE, SIZE, 3), dtype=np.uint8
            ),
            'video_id': np.int64,
        }),
        homepage=YOUTUBE_URL,
        # Keep the id order on disk, so that `train[:n]` is clips 0..n-1.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    path = dl_manager.manual_dir / VIDEO_FILENAME
    if not path.exists():
      raise FileNotFoundError(
          f'Expected the video at {path}, found no such file.\n'
          f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    check_file(str(path))  # A folder or an empty file: say so before TFDS starts.
    return {'train': self._generate_examples(str(path))}

  def _generate_examples(self, path: str):
    for i, clip in enumerate(iter_clips(path)):
      yield i, {'video': resize_frames(clip, SIZE), 'video_id': i}
