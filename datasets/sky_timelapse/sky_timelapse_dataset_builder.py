"""sky_timelapse: the SkyTimelapse clips (Xiong et al., 2017), 25 frames each.

The user unpacks the release by hand into `<manual_dir>/sky_timelapse/`. The
release holds one folder of JPEG frames per clip, two levels deep:

  sky_timelapse/sky_train/<video>/<clip>/<frame>.jpg   (640 x 360 frames)
  sky_timelapse/sky_test/<video>/<clip>/<frame>.jpg

(its readme: sky_train cuts 997 long videos into 2,392 short clips of 2 to over
100 frames; sky_test cuts 111 long videos into 225 clips).

The builder reads `sky_timelapse/sky_train/` when it exists (the training
videos, as the generative-video papers use), otherwise the whole
`sky_timelapse/` tree. A clip is any folder that directly holds image files
(.jpg, .jpeg, .png, .bmp), at any depth; clips are taken in order of their path.
A clip with at least 25 frames gives one example: its first 25 frames in file
name order, each centre-cropped to its min(H, W) square (360 x 360 of 640 x 360)
and resized to 128 x 128 with `tf.image.resize(method='bilinear',
antialias=True)`, rounded and clipped to uint8. Shorter clips are skipped, and
their count and names are logged at the end. An unreadable, empty or damaged
image, or a frame of another size than its clip's first, raises an error naming
the file and the problem. The paper counts 1,803 videos; we expect the sky_train clips
of at least 25 frames to be those, but have not checked it on the release.

Each example is `video`: uint8[25, 128, 128, 3] in [0, 255] and `video_id`:
int64, the clip's index in path order among the kept clips.

  tfds build datasets/sky_timelapse --manual_dir=DIR   # DIR/sky_timelapse/...
"""

import io

from absl import logging
from etils import epath
import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError
import tensorflow as tf
import tensorflow_datasets as tfds

FOLDER = 'sky_timelapse'
TRAIN_FOLDER = 'sky_train'
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
CLIP_FRAMES = 25
SIZE = 128


def find_clips(root: epath.Path) -> list[tuple[str, list[epath.Path]]]:
  """Lists every folder under `root` that directly holds image files.

  Args:
    root: top folder to search, recursively.

  Returns:
    (name, frames) per clip, sorted by name: `name` is the folder's path
    relative to `root` ('sky_train/v/v_1'); `frames` its image files sorted by
    file name.
  """
  clips = []
  for dirpath, _, filenames in tf.io.gfile.walk(str(root)):
    images = sorted(f for f in filenames if f.lower().endswith(IMAGE_SUFFIXES))
    if images:
      folder = epath.Path(dirpath)
      name = folder.relative_to(root).as_posix()
      clips.append((name, [folder / f for f in images]))
  return sorted(clips, key=lambda clip: clip[0])


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


def read_rgb(path: epath.Path) -> np.ndarray:
  """Decodes an image file to uint8[H, W, 3]; raises ValueError naming it and why."""
  try:
    data = path.read_bytes()
  except OSError as e:
    raise ValueError(f'Cannot read image {path}: {e.strerror or e}') from None
  if not data:
    raise ValueError(f'Image {path} is empty (0 bytes).')
  try:
    with Image.open(io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except UnidentifiedImageError:
    raise ValueError(f'Cannot read image {path}: not an image Pillow can decode '
                     '(a damaged file, or another format).') from None
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    # Truncated or damaged data: Pillow's own words ('image file is truncated').
    raise ValueError(f'Cannot read image {path}: {e}') from None


def load_clip(frames: list[epath.Path], size: int = SIZE) -> np.ndarray:
  """Reads, centre-crops and resizes frames: uint8[len(frames), size, size, 3]."""
  images = [read_rgb(path) for path in frames]
  for path, image in zip(frames, images):
    if image.shape != images[0].shape:
      raise ValueError(
          f'Frame {path} is {image.shape[1]} x {image.shape[0]}; the first frame of'
          f' its clip, {frames[0].name}, is {images[0].shape[1]} x'
          f' {images[0].shape[0]} (frames of a clip must be one size).'
      )
  return resize_frames(np.stack([center_square(image) for image in images]), size)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for sky_timelapse (see the module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download the SkyTimelapse release of Xiong et al. (2017), linked from
https://github.com/weixiong-ur/mdgan, and unpack it so that the manual
directory holds `{FOLDER}/{TRAIN_FOLDER}/<video>/<clip>/*.jpg`: by default
~/tensorflow_datasets/downloads/manual/{FOLDER}/, or pass another folder with
`tfds build datasets/sky_timelapse --manual_dir=DIR`. Without `{TRAIN_FOLDER}/`,
every folder of images under `{FOLDER}/` counts as a clip.
"""

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(CLIP_FRAMES, SIZE, SIZE, 3), dtype=np.uint8
            ),
            'video_id': np.int64,
        }),
        homepage='https://github.com/weixiong-ur/mdgan',
        # Keep the id order on disk, so that `train[:n]` is clips 0..n-1.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir / FOLDER
    if not root.is_dir():
      raise FileNotFoundError(
          f'Expected the unpacked release in {root}, found no such folder.\n'
          f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    if (root / TRAIN_FOLDER).is_dir():
      root = root / TRAIN_FOLDER
    return {'train': self._generate_examples(root)}

  def _generate_examples(self, root: epath.Path):
    clips = find_clips(root)
    if not clips:
      raise FileNotFoundError(f'No folder of images found under {root}.')
    too_short = []
    video_id = 0
    for name, frames in clips:
      if len(frames) < CLIP_FRAMES:
        too_short.append(f'{name} ({len(frames)} frames)')
        continue
      video = load_clip(frames[:CLIP_FRAMES])
      yield video_id, {'video': video, 'video_id': video_id}
      video_id += 1
    logging.info('sky_timelapse: kept %d of %d clips.', video_id, len(clips))
    if too_short:
      logging.warning(
          'sky_timelapse: skipped %d clips with fewer than %d frames: %s',
          len(too_short), CLIP_FRAMES, ', '.join(too_short),
      )
