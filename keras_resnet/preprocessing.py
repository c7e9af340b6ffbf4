"""``Preprocessing``: how raw images become a network's input, as one value.

Weights (:meth:`keras_resnet.Weights.preprocessing`), runs (``load_trained(...)
.preprocessing``), exported files (their metadata record) and the
:class:`~keras_resnet.Predictor` each hold one :class:`Preprocessing`, and every place
that normalises images asks it: :func:`keras_resnet.preprocess_input`, the layers
``build(..., include_preprocessing=...)`` puts inside a model, the exports'
``include_preprocessing=``, and the publishers' evaluation transforms.

The normalisation is ``(x[..., order] * scale - mean) / std`` on pixel values 0-255,
where ``order`` reverses RGB to BGR for Caffe weights. keras.applications names three
modes (``keras/src/applications/imagenet_utils.py``), and :meth:`Preprocessing.from_mode`
gives them with its numbers:

* ``caffe``: RGB -> BGR, minus the ImageNet BGR mean (103.939, 116.779, 123.68), no
  scaling;
* ``torch``: ``x / 255``, minus the RGB mean (0.485, 0.456, 0.406), divided by the std
  (0.229, 0.224, 0.225);
* ``tf``: ``x / 127.5 - 1``.

Weights trained here use ``pixel_mean`` (``x / 255`` minus a stored ``(H, W, C)`` mean
image, section 4.2 of the paper); anything else is ``custom``.

(Over 400 lines: the type and the three ways it is applied, which share its numbers:
arrays and tensors of any backend, Keras layers, and the publishers' Pillow resize.)
"""

from __future__ import annotations

import dataclasses
import sys
import types

import numpy as np

MODES = ("caffe", "torch", "tf")
DATA_FORMATS = ("channels_first", "channels_last")
CHANNEL_ORDERS = ("RGB", "BGR", "gray")
INTERPOLATIONS = ("bilinear", "bicubic")

# keras.applications' numbers (keras/src/applications/imagenet_utils.py, _preprocess_numpy_input)
_MODE_NUMBERS = {
    "caffe": dict(channel_order="BGR", scale=1.0, mean=(103.939, 116.779, 123.68), std=None),
    "torch": dict(channel_order="RGB", scale=1 / 255, mean=(0.485, 0.456, 0.406),
                  std=(0.229, 0.224, 0.225)),
    "tf": dict(channel_order="RGB", scale=1 / 127.5, mean=1.0, std=None),
}
# keys of the metadata record (exports, run directories, the registry)
_RECORD_KEYS = ("mode", "channel_order", "scale", "mean", "std", "resize", "crop",
                "interpolation", "input_size")


def _array(value, what):
    a = np.asarray(value, "float64")
    if a.ndim not in (0, 1, 3) or not np.all(np.isfinite(a)):
        raise ValueError(f"Preprocessing {what} must be finite: a number, one value per "
                         f"channel (C,), or a per-pixel array (H, W, C); got shape {a.shape}")
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class Preprocessing:
    """Input normalisation (and, for ImageNet-style weights, the evaluation resize and
    crop) of a network.

    Attributes:
        mode: ``"caffe"``, ``"torch"``, ``"tf"``, ``"pixel_mean"`` or ``"custom"``: a
            label (the numbers below are what is applied).
        scale: multiplies pixel values 0-255 first (``1 / 255``: to [0, 1]).
        mean: subtracted after scaling: a number, per channel ``(C,)`` (in
            ``channel_order``), or per pixel ``(H, W, C)``; float64, read-only.
        std: divides after subtracting (same shapes as ``mean``), or None.
        channel_order: ``"RGB"``, ``"BGR"`` (the input's RGB channels are reversed
            after normalising; ``mean``/``std`` are listed in BGR order) or ``"gray"``.
        input_size: ``(H, W)`` pixels the network takes, where fixed (weights trained
            here), else None.
        resize: ImageNet-style evaluation: the shorter side (pixels) before the centre
            crop; None: no resize.
        crop: the centre crop (pixels) after ``resize``.
        interpolation: ``"bilinear"`` or ``"bicubic"``: the resize's (the publisher's).

    Raises:
        ValueError: (when made) an unknown channel order or interpolation, a
            non-positive scale or std, non-finite numbers, a crop larger than the
            resize, or ``resize`` without ``crop``.
    """

    mode: str = "custom"
    scale: float = 1.0
    mean: np.ndarray | float = 0.0
    std: np.ndarray | None = None
    channel_order: str = "RGB"
    input_size: tuple[int, int] | None = None
    resize: int | None = None
    crop: int | None = None
    interpolation: str = "bilinear"

    def __post_init__(self):
        set_ = object.__setattr__.__get__(self)
        if self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got "
                             f"{self.channel_order!r}")
        scale = float(self.scale)
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"Preprocessing scale must be a positive number, got {self.scale!r}")
        set_("scale", scale)
        set_("mean", _array(self.mean, "mean"))
        if self.std is not None:
            std = _array(self.std, "std")
            if np.any(std <= 0):
                raise ValueError("Preprocessing std must be positive")
            set_("std", std)
        if self.input_size is not None:
            set_("input_size", tuple(int(d) for d in self.input_size))
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got "
                             f"{self.interpolation!r}")
        if (self.resize is None) != (self.crop is None):
            raise ValueError("give resize and crop together (the evaluation resize, then "
                             "the centre crop), or neither")
        if self.resize is not None and self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) must not exceed resize ({self.resize})")

    # ---------------------------------------------------------------- making one
    @classmethod
    def from_mode(cls, mode: str, **changes) -> Preprocessing:
        """keras.applications' ``mode`` (``"caffe"``, ``"torch"`` or ``"tf"``) with its
        numbers; ``changes`` set other fields (``resize=256, crop=224``).

        Raises:
            ValueError: an unknown mode.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        return cls(mode=mode, **{**_MODE_NUMBERS[mode], **changes})

    @classmethod
    def from_metadata(cls, record: dict) -> Preprocessing:
        """The inverse of :meth:`to_metadata` (also takes the registry's records, less
        a ``mean_file``, and dicts of ``scale``, ``mean``, ``std``, ``channel_order``).

        Raises:
            ValueError: unknown keys (listed), or values :class:`Preprocessing` refuses.
        """
        if not isinstance(record, dict):
            raise ValueError(f"expected a preprocessing record (a dict), got {record!r}")
        fields = {k: v for k, v in record.items() if k != "in_model"}
        if "mean_file" in fields:
            raise ValueError("give the per-pixel mean itself (mean=array), not mean_file")
        unknown = set(fields) - set(_RECORD_KEYS)
        if unknown:
            raise ValueError(f"unknown preprocessing keys {sorted(unknown)}; allowed: "
                             f"{', '.join(_RECORD_KEYS)}")
        if fields.get("input_size") is not None:
            fields["input_size"] = tuple(fields["input_size"])
        if fields.get("interpolation") is None:
            fields.pop("interpolation", None)
        return cls(**fields)

    @classmethod
    def coerce(cls, value) -> Preprocessing:
        """``value`` as a :class:`Preprocessing`: one itself, a mode name, or a dict
        (:meth:`from_metadata`). Weights tags are resolved by
        :func:`keras_resnet.pretrained.transforms.resolve_preprocessing`.

        Raises:
            ValueError: anything else.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value in MODES:
            return cls.from_mode(value)
        if isinstance(value, dict):
            return cls.from_metadata(value)
        raise ValueError(f"expected a Preprocessing, one of {MODES} or a dict with scale, "
                         f"mean, std, channel_order; got {value!r}")

    def replace(self, **changes) -> Preprocessing:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other):
        if not isinstance(other, Preprocessing):
            return NotImplemented
        return all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
                   for a, b in ((getattr(self, f.name), getattr(other, f.name))
                                for f in dataclasses.fields(self)))

    __hash__ = None  # holds arrays

    # ---------------------------------------------------------------- records
    def to_metadata(self) -> dict:
        """A JSON-ready record: ``mode``, ``channel_order``, ``scale``, ``mean``, ``std``
        (lists; per pixel as nested ``(H, W, C)`` lists), and ``resize``, ``crop``,
        ``interpolation``, ``input_size`` where set."""
        record = {"mode": self.mode, "channel_order": self.channel_order,
                  "scale": self.scale, "mean": self.mean.tolist(),
                  "std": None if self.std is None else self.std.tolist()}
        if self.resize is not None:
            record.update(resize=self.resize, crop=self.crop,
                          interpolation=self.interpolation)
        if self.input_size is not None:
            record["input_size"] = list(self.input_size)
        return record

    @property
    def channels(self) -> int | None:
        """The channel count the numbers are made for (None: any)."""
        for a in (self.mean, self.std):
            if a is not None and a.ndim:
                return int(a.shape[-1])
        return 3 if self.channel_order == "BGR" else None

    @property
    def is_identity(self) -> bool:
        """Whether it leaves pixel values as they are (raw 0-255 pixels are then the
        network's input)."""
        return (self.scale == 1.0 and not np.any(self.mean) and self.channel_order != "BGR"
                and (self.std is None or bool(np.all(self.std == 1))))

    def value_range(self) -> tuple[float, float]:
        """``(low, high)``: the least and greatest value any channel of any pixel
        0-255 becomes (float64; the normalisation is linear, so the extremes are those
        of pixels 0 and 255)."""
        std = 1.0 if self.std is None else self.std
        ends = [(0.0 * self.scale - self.mean) / std, (255.0 * self.scale - self.mean) / std]
        return float(np.min(ends)), float(np.max(ends))

    def check_fits(self, input_shape, data_format: str = "channels_last",
                   what: str = "the model", label: str | None = None):
        """Raise ValueError unless these numbers apply to images of ``input_shape``
        (no batch axis): the channel count and, for a per-pixel mean, height and width.
        ``what`` names the model, ``label`` these settings in the message."""
        channels = input_shape[0 if data_format == "channels_first" else -1]
        name = f"{label} " if label else ""
        if self.channels not in (None, channels):
            raise ValueError(f"the preprocessing {name}is for {self.channels}-channel "
                             f"images, but {what} takes {channels} channel(s): choose "
                             "settings made for its input")
        if self.mean.ndim == 3:
            hw = tuple(input_shape[1:] if data_format == "channels_first" else input_shape[:2])
            if None not in hw and tuple(self.mean.shape[:2]) != hw:
                raise ValueError(f"the preprocessing {name}has a per-pixel mean of "
                                 f"{self.mean.shape[0]}x{self.mean.shape[1]}, but {what} "
                                 f"takes {hw[0]}x{hw[1]} images: choose settings made for "
                                 "its input (or resize the mean to it)")

    # ---------------------------------------------------------------- applying
    def __call__(self, x, data_format: str | None = None):
        """Normalise images ``x`` (values 0-255). Numpy (or lists) in: a new float
        numpy array out (``x`` is not changed); tensors (any backend's, symbolic
        ``keras.Input``s, or ``tf.Tensor``s inside ``tf.data`` under any backend) in:
        a tensor of that kind out. Float inputs keep their dtype, integers become
        ``keras.config.floatx()``.

        Args:
            x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)`` (``(C, H, W)``,
                ``(N, C, H, W)`` channels-first).
            data_format: ``"channels_last"``/``"channels_first"``; None: Keras' global one.

        Raises:
            ValueError: a rank other than 3 or 4, or images these numbers do not fit.
        """
        return self.apply(x, data_format, in_place=False)

    def apply(self, x, data_format=None, *, in_place: bool):
        """:meth:`__call__`; ``in_place=True`` writes over a float numpy ``x`` (what
        keras.applications' ``preprocess_input`` does, and ours for compatibility)."""
        import keras

        if data_format is None:
            data_format = keras.config.image_data_format()
        elif data_format not in DATA_FORMATS:
            raise ValueError(f"data_format must be None, 'channels_last' or "
                             f"'channels_first', got {data_format!r}")
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if isinstance(x, np.ndarray):
            if in_place is False and np.issubdtype(x.dtype, np.floating):
                x = x.copy()
            return self._numpy(x, data_format, keras.config.floatx())
        return self._tensor(x, data_format, keras.config.floatx())

    def layers(self, data_format: str = "channels_last", name_prefix: str = "preprocess"):
        """Keras layers that apply these numbers inside a model, in order:
        ``<prefix>_normalize`` (a ``Rescaling``: cast to float, ``x * scale / std - mean
        / std``) and, for BGR numbers, ``<prefix>_bgr`` (a
        :class:`~keras_resnet.arch.layers.ReverseChannels`). Neither holds a variable,
        so training leaves them exact; their arithmetic equals :meth:`__call__` up to
        float rounding."""
        from keras import layers

        from .arch.layers import ReverseChannels  # imports Keras: only when layers are made

        mean = self.mean.astype("float32")
        std = np.ones_like(mean) if self.std is None else self.std.astype("float32")
        scale = np.float32(self.scale) / std
        offset = -mean / std
        bgr = self.channel_order == "BGR"
        if bgr and offset.ndim == 1:  # the mean is listed in BGR order; the input is RGB
            scale, offset = scale[::-1], offset[::-1]
        if data_format == "channels_first":  # (C,) -> (C, 1, 1); (H, W, C) -> (C, H, W)
            scale, offset = (a.reshape(-1, 1, 1) if a.ndim == 1 else
                             np.moveaxis(a, -1, 0) if a.ndim == 3 else a
                             for a in (scale, offset))
        out = [layers.Rescaling(scale=scale.copy(), offset=offset.copy(),
                                name=f"{name_prefix}_normalize")]
        if bgr:
            out.append(ReverseChannels(data_format=data_format, name=f"{name_prefix}_bgr"))
        return out

    def eval_transform(self, normalize: bool = True):
        """The evaluation transform as a function of raw images: uint8 (or 0-255 float)
        ``(H, W, C)`` or ``(N, H, W, C)`` (grayscale ``(H, W)`` and ``(N, H, W)`` too), a
        Pillow image, or a list of same-size images, in; float32 ``(N, H', W', C')``
        out. With ``resize``/``crop``: the shorter side resized (``interpolation``,
        Pillow, as torchvision and timm), then the centre crop, 3 channels. With
        ``input_size``: images of that size only. Grayscale is repeated to RGB for RGB
        weights (torchvision's ``Grayscale(3)``); Pillow's palette, 1-bit and CMYK
        images are converted as Pillow converts them. Then normalised, unless
        ``normalize=False`` (for a model with the preprocessing inside).

        Shapes are read as: rank 2 one grayscale image; rank 3 one image when its last
        axis is under 8 (channels), else a grayscale batch ``(N, H, W)`` (for grayscale
        weights, also when ``(H, W)`` is ``input_size``); rank 4 a batch.

        The function raises ValueError for images it cannot read unambiguously: 2 or 4
        channels (grayscale + alpha, RGBA or CMYK: says what to do), RGB images for
        grayscale weights (says how to convert), ``(3, H, W)`` for RGB weights (one
        channels-first image, or three grayscale ones?), another size than
        ``input_size``, another rank, an empty array, images of different shapes in
        one list, values outside 0..255 or within [0, 1] with fractions (pixels / 255),
        NaN, 16- or 32-bit Pillow images, or values that are not real numbers.
        """
        gray = self.channel_order == "gray" or self.channels == 1
        if self.resize is None:
            size, channels = self.input_size, self.channels or (1 if gray else 3)

            def fixed(images):
                x = _pixels(images)
                given = x.shape
                x = _as_batch(x, channels, given, size)
                if channels == 3 and x.shape[-1] == 1:
                    x = np.repeat(x, 3, axis=-1)  # grayscale to RGB, as the resize path
                _check_channels(x, channels, given)
                if size is not None and tuple(x.shape[1:3]) != size:
                    want = f"{size[0]}x{size[1]}x{channels}"
                    raise ValueError(
                        f"these weights take {want} images; got shape {given}: resize "
                        f"them to {size[0]}x{size[1]} first (keras-resnet predict and "
                        "evaluate do: bilinear with antialiasing, "
                        "keras_resnet.data.images.resize_to)")
                x = x.astype("float32")
                return self(x, "channels_last") if normalize else x

            return fixed

        def transform(images):
            x = _pixels(images)
            given = x.shape
            x = _as_batch(x, 3, given)
            _check_channels(x, 3, given, grayscale_ok=True)
            if x.shape[-1] == 1:
                x = np.repeat(x, 3, axis=-1)
            x = resize_and_crop_pil(x, self.resize, self.crop, self.interpolation)
            return self(x, "channels_last") if normalize else x

        return transform

    # ---------------------------------------------------------------- arithmetic
    def _constants(self, shape, data_format):
        """The channel axis and ``mean``, ``std`` shaped to broadcast against images of
        ``shape`` (rank 3 or 4); checks that they fit."""
        what = "preprocess_input"
        if len(shape) not in (3, 4):
            layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
            raise ValueError(f"{what}: expected one image {layout} or a batch (N, "
                             f"{layout[1:]}, got shape {tuple(shape)}")
        axis = -1 if data_format == "channels_last" else len(shape) - 3
        # float64 here, cast to the images' dtype when applied: float64 input gets the
        # numbers exactly as keras.applications has them
        mean, std = self.mean, self.std
        image = tuple(shape[-3:])
        if mean.ndim == 3:  # a per-pixel mean, stored (H, W, C)
            if data_format == "channels_last":
                want, layout = mean.shape, "H, W, C"
            else:
                want, layout = (mean.shape[2], *mean.shape[:2]), "C, H, W"
            if any(s is not None and s != w for s, w in zip(image, want)):
                raise ValueError(f"{what}: these weights take images of shape {want} "
                                 f"({layout}), got {tuple(shape)}: resize them to "
                                 f"{want[0] if layout[0] == 'H' else want[1]}x"
                                 f"{want[1] if layout[0] == 'H' else want[2]} first "
                                 "(keras-resnet predict and evaluate do: bilinear with "
                                 "antialiasing, keras_resnet.data.images.resize_to)")
            if data_format == "channels_first":
                mean = np.moveaxis(mean, -1, 0)
                std = None if std is None else np.moveaxis(std, -1, 0)
            return axis, mean, std
        channels = shape[axis]
        if mean.ndim == 1 and channels is not None and channels != mean.shape[0]:
            layout = "last" if data_format == "channels_last" else "first"
            raise ValueError(
                f"{what}: {self.mode} preprocessing needs {mean.shape[0]} (RGB) channels, "
                f"channels {layout}, but the images have shape {tuple(shape)} (data_format="
                f"{data_format!r}; pass data_format= if the channels are on the other axis)")
        if data_format == "channels_first":  # (C,) -> (C, 1, 1)
            mean = mean.reshape(-1, 1, 1) if mean.ndim == 1 else mean
            std = std.reshape(-1, 1, 1) if std is not None and std.ndim == 1 else std
        return axis, mean, std

    def _numpy(self, x, data_format, floatx):
        # keras.applications' numpy path, in place
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(floatx)
        elif not x.flags.writeable:
            x = x.copy()
        if (self.mean.ndim == 3 and self.mean.shape[2] == 1 and data_format == "channels_last"
                and x.shape[-2:] == self.mean.shape[:2]):
            x = x[..., None]  # (N, H, W) grayscale for weights with a (H, W, 1) mean
        axis, mean, std = self._constants(x.shape, data_format)
        if self.channel_order == "BGR":
            x = np.flip(x, axis)  # a view: the writes below reach the caller's array
        if self.scale != 1:
            x *= np.asarray(self.scale, x.dtype)
        x -= mean.astype(x.dtype)
        if std is not None:
            x /= std.astype(x.dtype)
        return x

    def _tensor(self, x, data_format, floatx):
        ops = _ops_for(x)
        axis, mean, std = self._constants(tuple(x.shape), data_format)
        dtype = ops.dtype(x)
        if not dtype.startswith(("float", "bfloat")):
            dtype = floatx
            x = ops.cast(x, dtype)
        if self.channel_order == "BGR":
            x = ops.take(x, [2, 1, 0], axis)
        if self.scale != 1:
            x = x * ops.constant(self.scale, dtype)
        x = x - ops.constant(mean, dtype)
        if std is not None:
            x = x / ops.constant(std, dtype)
        return x


def _ops_for(x):
    """The four operations the tensor path needs, for ``x``'s kind of tensor: Keras'
    (``keras.ops``: the active backend's tensors and symbolic ``KerasTensor``s), or
    TensorFlow's for a ``tf.Tensor`` met under another backend -- what
    ``tf.data.Dataset.map`` passes under JAX or PyTorch, where ``keras.ops`` would
    call the wrong library."""
    import keras

    tf = sys.modules.get("tensorflow")
    if (keras.backend.backend() != "tensorflow" and tf is not None
            and isinstance(x, (tf.Tensor, tf.Variable))):
        return types.SimpleNamespace(
            dtype=lambda t: t.dtype.name, cast=tf.cast,
            take=lambda t, indices, axis: tf.gather(t, indices, axis=axis),
            constant=lambda value, dtype: tf.constant(value, dtype=dtype))
    return types.SimpleNamespace(
        dtype=lambda t: keras.backend.standardize_dtype(t.dtype), cast=keras.ops.cast,
        take=lambda t, indices, axis: keras.ops.take(t, indices, axis=axis),
        constant=lambda value, dtype: keras.ops.convert_to_tensor(value, dtype=dtype))



# The last axis of a rank-3 array is read as channels below this many, else as the
# width of a batch of grayscale images (N, H, W): no image format has 8 or more channels,
# and a width under 8 pixels is no image a ResNet classifies.
_MAX_CHANNELS = 8


def _from_pil(image):
    """A Pillow image as a uint8 array: palette, 1-bit, CMYK and other colour spaces
    converted as Pillow converts them (a palette image's array holds palette indices,
    not grey levels); 16- and 32-bit modes refused (their values are not 0-255)."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;"):
        raise ValueError(f"a Pillow image of mode {mode!r} (16 or 32 bits per pixel): "
                         "scale it to 8 bits (0-255) first")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA", "La", "RGBa"):  # CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    return np.asarray(image)


def _pixels(images):
    """``images`` (an array, a Pillow image, or a list of either) as a numpy array of
    pixel values 0-255, checked: ValueError for anything else."""
    def one(item):
        return _from_pil(item) if hasattr(item, "getbands") else np.asarray(item)

    if isinstance(images, (list, tuple)) and images and any(
            hasattr(i, "getbands") or np.ndim(i) >= 2 for i in images):
        items = [one(i) for i in images]
        shapes = sorted({i.shape for i in items})
        if len(shapes) > 1:
            raise ValueError(f"images of different shapes {shapes[:3]} cannot form one "
                             "batch: call the transform on each, then np.concatenate")
        x = np.stack(items)
    else:
        x = one(images)
    if x.dtype.kind not in "uif":
        raise ValueError(f"images must be real numbers (uint8 or 0-255 float pixels), got "
                         f"dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"images: empty (shape {x.shape}); give at least one image with "
                         "at least one pixel")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError("images: contain NaN or infinite values")
    low, high = x.min(), x.max()
    if low < 0 or high > 255:
        raise ValueError(
            f"images: pixel values must lie in 0..255 (uint8, or 0-255 floats), got "
            f"{low:.4g}..{high:.4g}: scale 16-bit images to 8 bits (x / 257), and give "
            "images before any normalisation")
    if x.dtype.kind == "f" and high <= 1 and np.any(x != np.round(x)):
        raise ValueError(
            "images: values within [0, 1] with fractions look like pixels / 255; this "
            "transform takes 0-255 pixels (multiply by 255)")
    return x


def _as_batch(x, channels, given, size=None):
    """``x`` as ``(N, H, W, C)``: rank 2 is one grayscale image; rank 3 one image when
    its last axis is under :data:`_MAX_CHANNELS` (and, for grayscale weights, not the
    ``size`` pair), else a grayscale batch ``(N, H, W)``. Three grayscale images read
    from ``(3, H, W)`` for RGB weights would equally be one channels-first image:
    ValueError, saying how to give either."""
    if x.ndim == 2:
        return x[None, ..., None]
    if x.ndim == 3:
        batch = x.shape[-1] >= _MAX_CHANNELS or (channels == 1 and x.shape[-2:] == size)
        if not batch:
            return x[None]
        if channels == 3 and x.shape[0] == 3:
            raise ValueError(
                f"images of shape {given} read both as one channels-first RGB image and "
                "as 3 grayscale images: give channels last (np.moveaxis(x, 0, -1)) for "
                "the first, (3, H, W, 1) for the second")
        return x[..., None]
    if x.ndim != 4:
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C) of raw "
                         f"pixels, got shape {given}")
    return x


def _check_channels(x, channels, given, grayscale_ok=False):
    """Raise ValueError, saying how to convert, unless the last axis of ``x`` holds
    ``channels`` channels (or 1 where ``grayscale_ok``: repeated to RGB by the caller);
    messages name ``given``, the shape the caller passed.
    Alpha channels are refused rather than guessed at: dropping one is right for an
    opaque image and wrong for a cut-out, which a composite onto a background fits."""
    c = x.shape[-1] if x.ndim >= 3 else 1
    if c == channels or (grayscale_ok and c == 1):
        return
    if c == 2:
        raise ValueError(
            f"images of shape {given} have 2 channels (grayscale + alpha?): drop the "
            "alpha channel (x[..., :1], or Pillow's image.convert('L')), or composite "
            "onto a background first")
    if c == 4:
        raise ValueError(
            f"images of shape {given} have 4 channels (RGBA, or CMYK?): drop an alpha "
            "channel (x[..., :3], or Pillow's image.convert('RGB')) or composite onto a "
            "background; convert CMYK with Pillow's image.convert('RGB')")
    if channels == 1 and c == 3:
        raise ValueError(
            f"these weights take grayscale images; got shape {given} with 3 channels: "
            "convert to grayscale first (Pillow's image.convert('L'), or "
            "x @ [0.299, 0.587, 0.114] for ITU-R 601 luma)")
    raise ValueError(f"these weights take {channels}-channel images; got shape {given} "
                     f"with {c} channels")

def resize_and_crop_pil(images, resize: int, crop: int, interpolation: str = "bilinear"):
    """The evaluation transform of published weights, as their publishers run it:
    torchvision's ``Resize(resize)`` then ``CenterCrop(crop)`` on PIL images (what
    timm's ``create_transform`` and torchvision's V1 recipe do), with Pillow, the
    library they resize with. The shorter side becomes ``resize`` and the longer
    ``int(resize * long / short)`` (truncated, as torchvision); the crop starts at
    ``round((size - crop) / 2)`` (Python's rounding, as torchvision).

    :func:`keras_resnet.data.augment.resize_and_crop` (TensorFlow, for tf.data
    pipelines) differs from it by a few levels on some pixels (measured up to 7/255 on a photo, bicubic, mean 0.2/255);
    ``load_pretrained`` uses this one so that pretrained weights see exactly their
    publisher's input.

    Args:
        images: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, numpy. uint8 RGB
            goes through Pillow's RGB mode (rounded to uint8 after resizing, as
            torchvision reads a file); any other dtype or channel count is resized
            channel by channel in float (mode "F"), not rounded.
        resize, crop: sizes in pixels, ``crop <= resize``.
        interpolation: ``"bilinear"`` or ``"bicubic"`` (Pillow's, antialiased).

    Returns:
        float32 numpy array ``(crop, crop, C)`` or ``(N, crop, crop, C)``, on the
        input's scale.

    Raises:
        ValueError: ``images`` not rank 3 or 4, an unknown ``interpolation``, or
            ``crop > resize``.
    """
    from PIL import Image  # Pillow is imported when an image is resized, not with the package

    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C), got shape "
                         f"{x.shape}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got "
                         f"{interpolation!r}")
    if crop > resize:
        raise ValueError(f"crop ({crop}) must not exceed resize ({resize})")
    method = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[interpolation]
    out = []
    for img in (x if x.ndim == 4 else x[None]):
        h, w = img.shape[:2]
        nh, nw = (resize, int(resize * w / h)) if h <= w else (int(resize * h / w), resize)
        if img.dtype == np.uint8 and img.shape[-1] == 3:
            r = np.asarray(Image.fromarray(img).resize((nw, nh), method), "float32")
        else:
            r = np.stack([np.asarray(Image.fromarray(img[..., c].astype("float32"), mode="F")
                                     .resize((nw, nh), method))
                          for c in range(img.shape[-1])], axis=-1)
        top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
        out.append(r[top:top + crop, left:left + crop])
    out = np.stack(out).astype("float32")
    return out if x.ndim == 4 else out[0]
