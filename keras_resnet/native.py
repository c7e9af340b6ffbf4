"""A native fp32 inference engine for (BN-folded) ResNets: the Predictor's ``"native"``
backend.

Every convolution runs as one call of a small AVX-512 kernel
(``native_kernels.c``, compiled on first use with the system's C compiler and cached)
that fuses bias, residual addition and ReLU into the store. Two layout tricks keep
the activations in place between layers:

* a tensor read by a 3x3 stride-1 "same" convolution is stored with one zero row
  above and below and one zero column that serves as both the left and the right
  border (row width W+1), so the convolution reads its nine taps at fixed offsets of
  the flattened buffer, and the layer before writes straight into that layout;
* a tensor read only by a ZeroPadding2D is written straight into the padded buffer.

3x3 convolutions on mid-sized maps (``WINOGRAD_PIXELS``) run as Winograd F(2x2, 3x3):
an input transform, sixteen matrix products through the same kernel, and an output
transform that applies bias, residual and ReLU. Strided or large kernels (the 7x7
stem, 3x3 stride-2 convolutions of basic blocks) are rewritten as stride-1
convolutions on a space-to-depth copy of their input; 1x1 stride-2 convolutions read
a subsampled copy. Max pooling, global average pooling and the classifier run in C
too; an Add or ReLU the engine cannot fuse runs in NumPy (never NumPy's BLAS, whose
spinning idle threads would take the cores from the kernel's).

The engine sets the OpenMP thread count for the whole process (the last engine built
wins).

Needs an x86-64 CPU with AVX-512 and a C compiler with OpenMP (``cc``/``gcc``);
without them :class:`NativeEngine` raises ``ImportError`` and the Predictor skips the
backend. Outputs are checked against Keras by the Predictor like every backend's.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import types

import numpy as np

from . import graphwalk

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native_kernels.c")
_FLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC"]
_NR = 32  # output channels per weight panel (the kernel's register tile)
# 3x3 convolutions on maps of this many pixels use Winograd F(2x2, 3x3). Measured on
# ResNet-50 here (in place, one image): faster on 28x28 and 14x14 maps; slower on 56x56
# (the transformed input and products, 3 MB each, fall out of cache) and on 7x7 (too few
# tiles to fill the matrix products, and 16/9 more weights to stream).
WINOGRAD_PIXELS = (100, 1000)
_LIB = None


def _cpu_id():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags")):
                    yield line
    except OSError:
        yield platform.processor()


def cache_dir():
    return os.environ.get("KERAS_RESNET_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "keras_resnet"))


def library():
    """The compiled kernel (ctypes), built on first use and cached per source and CPU."""
    global _LIB
    if _LIB is not None:
        return _LIB
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise ImportError(f"the native engine needs an x86-64 CPU, this is {platform.machine()}")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ImportError("the native engine needs a C compiler (cc or gcc) on PATH")
    with open(_SOURCE, "rb") as f:
        source = f.read()
    key = hashlib.sha256(source + " ".join(_FLAGS).encode()
                         + "".join(_cpu_id()).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"native-{key}.so")
    if not os.path.exists(path):
        os.makedirs(cache_dir(), exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache_dir())
        os.close(fd)
        done = subprocess.run([cc, *_FLAGS, _SOURCE, "-o", tmp], capture_output=True, text=True)
        if done.returncode != 0:
            os.remove(tmp)
            raise ImportError("could not compile the native kernel: "
                              + (done.stderr.strip().splitlines() or ["?"])[-1])
        os.replace(tmp, path)  # atomic: a half-written library is never loaded
        for old in os.listdir(cache_dir()):  # builds of earlier kernel sources
            if old.startswith("native-") and old.endswith(".so") and old != os.path.basename(path):
                try:
                    os.remove(os.path.join(cache_dir(), old))
                except OSError:
                    pass
    lib = ctypes.CDLL(path)
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.conv_gemm.argtypes = [p, i, p, i, i, p, p, p, p, i, i, i, i, i, i, i, i]
    lib.conv_gemm.restype = None
    lib.set_threads.argtypes = [i]
    lib.set_prefetch_rows.argtypes = [i]
    lib.max_pool.argtypes = [p, i, i, p, i, i, i, i, i, i, i, i, i]
    lib.global_avg_pool.argtypes = [p, i, i, i, i, i, p]
    lib.space_to_depth.argtypes = [p, i, i, i, i, i, i, i, p, i, i]
    lib.subsample.argtypes = [p, i, i, i, i, i, p, i, i]
    L = ctypes.c_long
    lib.wino_input.argtypes = [p, i, i, i, i, i, p, i, i]
    lib.batched_gemm.argtypes = [p, L, p, L, p, p, L, i, i, i, i, i]
    lib.wino_output.argtypes = [p, i, i, i, p, p, p, i, i, i, i, i, i]
    for f in (lib.max_pool, lib.global_avg_pool, lib.space_to_depth, lib.subsample,
              lib.wino_input, lib.batched_gemm, lib.wino_output):
        f.restype = None
    _LIB = lib
    return lib


def _ceil(a, b):
    return -(-a // b)


def _zeros(shape):
    """Zeros in a 64-byte aligned buffer: whole-cache-line vector loads and stores."""
    n = int(np.prod(shape))
    raw = np.zeros(n + 16, np.float32)
    start = (-raw.ctypes.data // 4) % 16
    return raw[start:start + n].reshape(shape)


class _Tensor:
    """An activation buffer. ``layout``: 'plain' (H x W rows), 'shared' (one zero row
    above and below, one zero column shared by left and right border: row width W+1)
    or ('border', p) (a zero frame of p pixels: the output of a ZeroPadding2D)."""

    def __init__(self, h, w, c, layout="plain", pad_channels=True):
        self.h, self.w, self.c, self.layout = h, w, c, layout
        self.cp = _ceil(c, _NR) * _NR if pad_channels else c
        if layout == "plain":
            self.vw, self.off, rows = w, 0, h * w
        elif layout == "shared":
            self.vw, self.off, rows = w + 1, w + 2, (h + 2) * (w + 1) + 2
        else:
            p = layout[1]
            self.vw, self.off, rows = w + 2 * p, p * (w + 2 * p) + p, (h + 2 * p) * (w + 2 * p)
        self.buf = _zeros((rows, self.cp))

    def alias(self, **fields):
        """Another view of the same buffer, with some fields changed."""
        t = _Tensor.__new__(_Tensor)
        t.__dict__.update(self.__dict__, **fields)
        return t

    def view(self):
        """(H, W, Cp) view of the valid pixels."""
        if self.layout == "plain":
            return self.buf.reshape(self.h, self.w, self.cp)
        if self.layout == "shared":
            g = self.buf[:(self.h + 2) * (self.w + 1)].reshape(self.h + 2, self.w + 1, self.cp)
            return g[1:self.h + 1, 1:]
        p = self.layout[1]
        g = self.buf.reshape(self.h + 2 * p, self.w + 2 * p, self.cp)
        return g[p:p + self.h, p:p + self.w]


class _Vector:
    """A (1, C) activation (after global pooling), channels padded to the panel width."""

    def __init__(self, c):
        self.c, self.cp = c, _ceil(c, _NR) * _NR
        self.buf = _zeros((1, self.cp))


def _pack(kernel, cin_p, cout_p):
    """(taps, Cin, Cout) kernel -> panels (Cout_p/32, taps*Cin_p, 32), zero padded."""
    taps, cin, cout = kernel.shape
    k = np.zeros((taps, cin_p, cout_p), np.float32)
    k[:, :cin, :cout] = kernel
    k = k.reshape(taps * cin_p, cout_p // _NR, _NR).transpose(1, 0, 2)
    out = _zeros(k.shape)
    out[...] = k
    return out


class NativeEngine:
    """Runs a Keras ResNet (any model of Conv2D / Activation('relu') / Add /
    ZeroPadding2D / MaxPooling2D / GlobalAveragePooling2D / Dense / BatchNormalization
    after a conv) with the native kernel. Input ``(N, H, W, C)`` float32; images run one
    at a time (the engine is built for batch-1 latency)."""

    def __init__(self, model, num_threads=None, winograd_pixels=WINOGRAD_PIXELS):
        import keras

        from .inference import fold_batchnorm

        self.winograd_pixels = winograd_pixels

        self.lib = library()
        self.lib.set_threads(int(num_threads or os.cpu_count()))
        folded = fold_batchnorm(model)
        layers = graphwalk.layers_in_order(folded)
        supported = (keras.layers.Conv2D, keras.layers.Activation, keras.layers.Add,
                     keras.layers.ZeroPadding2D, keras.layers.MaxPooling2D,
                     keras.layers.GlobalAveragePooling2D, keras.layers.Dense)
        for layer in layers:
            if not isinstance(layer, supported):
                raise NotImplementedError(f"native engine: layer {layer.name!r} "
                                          f"({type(layer).__name__}) is not supported")
            if (getattr(layer, "data_format", "channels_last") != "channels_last"
                    and not self._is_channel_pad(layer)):
                raise NotImplementedError(f"native engine: {layer.name!r} is channels_first")
        if len(folded.inputs) != 1 or len(folded.outputs) != 1:
            raise NotImplementedError("native engine: one input and one output only")
        self.readers = graphwalk.consumers(folded)
        self.layers = layers
        self.model = folded
        self.input_shape = tuple(folded.inputs[0].shape[1:])
        self._plan()

    # ---------------------------------------------------------------- planning
    @staticmethod
    def _is_conv3_same(layer):
        import keras

        return (isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (3, 3)
                and layer.strides == (1, 1) and layer.padding == "same"
                and layer.dilation_rate == (1, 1))

    def _layout_for(self, tensor):
        import keras

        readers = self.readers.get(id(tensor), [])
        if any(self._is_conv3_same(l) for l in readers):
            return "shared"
        if (len(readers) == 1 and isinstance(readers[0], keras.layers.ZeroPadding2D)
                and not self._is_channel_pad(readers[0])):
            (a, b), (c, d) = readers[0].padding
            if a == b == c == d:
                return ("border", a)
        for reader in readers:
            # a shortcut that reaches a residual addition (through option A's channel
            # padding) is stored the way the addition's result is, so that the
            # convolution on the other branch can add it in its store
            if self._is_channel_pad(reader):
                return self._layout_for(graphwalk.output_of(reader))
            if isinstance(reader, keras.layers.Add):
                total = graphwalk.output_of(reader)
                act = self._single_reader(total, keras.layers.Activation)
                return self._layout_for(graphwalk.output_of(act) if act is not None else total)
        return "plain"

    @staticmethod
    def _is_channel_pad(layer):
        """Option A's zero channels: a ZeroPadding2D told 'channels_first' on an NHWC
        tensor, padding only the end of the last axis."""
        import keras

        return (isinstance(layer, keras.layers.ZeroPadding2D)
                and layer.data_format == "channels_first"
                and tuple(layer.padding[0]) == (0, 0) and layer.padding[1][0] == 0)

    def _new(self, tensor, pad_channels=True):
        _, h, w, c = tensor.shape
        t = _Tensor(h, w, c, self._layout_for(tensor), pad_channels)
        self.tensors[id(tensor)] = t
        return t

    def _plan(self):
        import keras

        self.tensors = {}
        self.steps = []
        x = self.model.inputs[0]
        if len(x.shape) != 4:
            raise NotImplementedError("native engine: image models only")
        self.input = self._new(x, pad_channels=False)
        fused = set()  # Activation/Add layers folded into a convolution's store
        self._position = {l.name: i for i, l in enumerate(self.layers)}
        for layer in self.layers:
            if layer.name in fused:
                continue
            (out,) = [graphwalk.output_of(layer)]
            ins = graphwalk.inputs_of(layer)
            if isinstance(layer, keras.layers.Conv2D):
                self._plan_conv(layer, ins[0], out, fused)
            elif isinstance(layer, keras.layers.ZeroPadding2D):
                self._plan_zeropad(layer, ins[0], out)
            elif isinstance(layer, keras.layers.MaxPooling2D):
                self._plan_maxpool(layer, ins[0], out)
            elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
                src = self.tensors[id(ins[0])]
                if isinstance(src, _Vector) or src.cp % 16:
                    raise NotImplementedError(f"native engine: {layer.name!r} input")
                self.tensors[id(out)] = dst = _Vector(src.c)
                args = (src.buf.ctypes.data, src.h, src.w, src.vw, src.off, src.cp,
                        dst.buf.ctypes.data)
                self.steps.append(lambda f=self.lib.global_avg_pool, a=args: f(*a))
            elif isinstance(layer, keras.layers.Dense):
                self._plan_dense(layer, ins[0], out)
            elif isinstance(layer, keras.layers.Activation):
                self._plan_elementwise(layer, ins, out, "relu")
            elif isinstance(layer, keras.layers.Add):
                self._plan_elementwise(layer, ins, out, "add")
        self.output = self.tensors[id(self.model.outputs[0])]

    def _single_reader(self, tensor, cls):
        readers = self.readers.get(id(tensor), [])
        if len(readers) == 1 and isinstance(readers[0], cls) and graphwalk.called_once(readers[0]):
            return readers[0]
        return None

    def _plan_conv(self, layer, inp, out, fused):
        import keras

        if layer.groups != 1 or layer.dilation_rate != (1, 1):
            raise NotImplementedError(f"native engine: {layer.name!r} is grouped or dilated")
        kernel, bias = layer.get_weights()
        kh, kw, cin, cout = kernel.shape
        src = self.tensors[id(inp)]
        if src.cp > cin:  # the input buffer's padding channels are zeros
            kernel = np.concatenate([kernel, np.zeros((kh, kw, src.cp - cin, cout),
                                                      np.float32)], axis=2)
            cin = src.cp
        # what the store fuses: ReLU, or a residual Add (whose other input is ready) + ReLU
        relu, residual, final = False, None, out
        act = self._single_reader(out, keras.layers.Activation)
        add = self._single_reader(out, keras.layers.Add)
        if act is not None and act.get_config()["activation"] == "relu":
            relu, final = True, graphwalk.output_of(act)
            fused.add(act.name)
        elif act is None and add is not None:
            a, b = graphwalk.inputs_of(add)
            other = b if a is out else a
            ready = id(other) in self.tensors and len(graphwalk.inputs_of(add)) == 2
            if ready:
                total = graphwalk.output_of(add)
                act2 = self._single_reader(total, keras.layers.Activation)
                if act2 is not None and act2.get_config()["activation"] == "relu":
                    total = graphwalk.output_of(act2)
                r = self.tensors[id(other)]
                ready = (not isinstance(r, _Vector) and r.layout == self._layout_for(total)
                         and r.cp == _ceil(cout, _NR) * _NR)
            if ready:  # else the Add runs in NumPy after the conv
                residual, final = self.tensors[id(other)], graphwalk.output_of(add)
                fused.add(add.name)
                act2 = self._single_reader(final, keras.layers.Activation)
                if act2 is not None and act2.get_config()["activation"] == "relu":
                    relu, final = True, graphwalk.output_of(act2)
                    fused.add(act2.name)
        if residual is not None and all(
                r is add or self._position[r.name] < self._position[layer.name]
                for r in self.readers[id(other)]):
            # nobody reads the residual after this conv: add into it in place (its cache
            # lines are read anyway, and the block keeps one buffer fewer)
            dst = self.tensors[id(final)] = residual
        else:
            dst = self._new(final)
        sh, sw = layer.strides
        if (kh, kw) == (1, 1) and layer.padding in ("valid", "same"):
            if (sh, sw) == (1, 1):
                a, lda, offs, vw, m = src, src.cp, [src.off], src.vw, src.h * src.vw
                taps = kernel.reshape(1, cin, cout)
                prep = None
            else:
                ho, wo = _ceil(src.h, sh), _ceil(src.w, sw)
                a = _Tensor(ho, wo, src.c, pad_channels=src.cp % _NR == 0)
                lda, offs, vw, m = a.cp, [0], wo, ho * wo
                taps = kernel.reshape(1, cin, cout)
                if src.cp % 16 == 0:
                    sub = (src.buf.ctypes.data, src.vw, src.off, src.cp, sh, sw,
                           a.buf.ctypes.data, ho, wo)
                    prep = lambda f=self.lib.subsample, sub=sub: f(*sub)  # noqa: E731
                else:
                    prep = (lambda s=src, t=a, sh=sh, sw=sw:
                            np.copyto(t.view(), s.view()[::sh, ::sw]))
            kseg, w_valid = src.cp, _ceil(src.w, sw)
        elif (self._is_conv3_same(layer) and src.cp % 16 == 0
              and self.winograd_pixels[0] <= src.h * src.w <= self.winograd_pixels[1]):
            return self._plan_winograd(kernel, bias, src, dst, residual, relu)
        elif self._is_conv3_same(layer) and src.layout == "shared":
            # one segment per kernel row: its three taps are adjacent pixels in memory
            a, lda, vw, m = src, src.cp, src.vw, src.h * src.vw
            offs = [src.off + dy * src.vw - 1 for dy in (-1, 0, 1)]
            taps = kernel.reshape(3, 3 * cin, cout)
            prep, kseg, w_valid = None, 3 * src.cp, src.w
        elif layer.padding == "valid":
            # stride-s kxk valid conv == ceil(k/s)^2 stride-1 conv on space-to-depth(s)
            kh2, kw2 = _ceil(kh, sh), _ceil(kw, sw)
            ho, wo = (src.h - kh) // sh + 1, (src.w - kw) // sw + 1
            hs, ws = ho + kh2 - 1, wo + kw2 - 1
            c2 = sh * sw * src.cp
            s2d = _zeros(((hs + 1) * ws + kw2, c2))
            big = np.zeros((kh2 * sh, kw2 * sw, cin, cout), np.float32)
            big[:kh, :kw] = kernel
            taps = (big.reshape(kh2, sh, kw2, sw, cin, cout).transpose(0, 2, 1, 3, 4, 5)
                    .reshape(kh2, kw2 * sh * sw * cin, cout))
            a = types.SimpleNamespace(buf=s2d)
            lda, kseg, vw, m, w_valid = c2, kw2 * c2, ws, ho * ws, wo
            offs = [dy * ws for dy in range(kh2)]  # a kernel row's taps are adjacent
            sd = (src.buf.ctypes.data, src.h, src.w, src.vw, src.off, src.cp, sh, sw,
                  s2d.ctypes.data, hs, ws)
            prep = lambda f=self.lib.space_to_depth, sd=sd: f(*sd)  # noqa: E731
        else:
            raise NotImplementedError(f"native engine: conv {layer.name!r} "
                                      f"({kh}x{kw}, stride {sh}, padding {layer.padding})")
        packed = _pack(taps, kseg, dst.cp)
        b = _zeros(dst.cp)
        b[:cout] = bias
        offs = np.asarray(offs, np.int32)
        need = (m - 1 + int(offs.max())) * lda + kseg
        if need > a.buf.size:
            raise NotImplementedError(f"native engine: {layer.name!r} would read past its input")
        args = (a.buf.ctypes.data, lda, offs.ctypes.data, len(offs), kseg, packed.ctypes.data,
                b.ctypes.data, residual.buf.ctypes.data if residual is not None else None,
                dst.buf.ctypes.data, dst.cp, m, dst.cp, int(relu), vw, w_valid, dst.vw,
                dst.off)
        keep = (a, offs, packed, b)  # keep the arrays alive as long as the step
        call = self.lib.conv_gemm
        if prep is None:
            self.steps.append(lambda args=args, keep=keep: call(*args))
        else:
            self.steps.append(lambda args=args, keep=keep, prep=prep: (prep(), call(*args)))

    def _plan_winograd(self, kernel, bias, src, dst, residual, relu):
        """A 3x3 stride-1 'same' convolution as Winograd F(2x2, 3x3): input transform,
        sixteen matrix products, output transform with bias/residual/ReLU fused."""
        cin, cout = kernel.shape[2], kernel.shape[3]
        th, tw = _ceil(src.h, 2), _ceil(src.w, 2)
        tiles, n = th * tw, dst.cp
        g = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
        u = np.einsum("ai,ijco,bj->abco", g, kernel.astype("float64"), g)
        u = u.reshape(16, 1, cin, cout).astype("float32")
        packed = _zeros((16, n // _NR, cin, _NR))
        for xi in range(16):
            packed[xi] = _pack(u[xi], cin, n)
        b = _zeros(n)
        b[:cout] = bias
        v, m, zeros = _zeros((16, tiles, cin)), _zeros((16, tiles, n)), _zeros(n)
        lib = self.lib
        a_in = (src.buf.ctypes.data, src.h, src.w, src.vw, src.off, cin, v.ctypes.data, th, tw)
        a_mm = (v.ctypes.data, tiles * cin, packed.ctypes.data, n * cin, zeros.ctypes.data,
                m.ctypes.data, tiles * n, 16, cin, cin, tiles, n)
        a_out = (m.ctypes.data, th, tw, n, b.ctypes.data,
                 residual.buf.ctypes.data if residual is not None else None, dst.buf.ctypes.data,
                 dst.h, dst.w, dst.vw, dst.off, dst.cp, int(relu))
        keep = (v, m, zeros, packed, b)

        def step(keep=keep):
            lib.wino_input(*a_in)
            lib.batched_gemm(*a_mm)
            lib.wino_output(*a_out)
        self.steps.append(step)

    def _plan_zeropad(self, layer, inp, out):
        (a, b), (c, d) = layer.padding
        src = self.tensors[id(inp)]
        if self._is_channel_pad(layer):
            extra = d
            if src.c + extra > src.cp or self._layout_for(out) != src.layout:
                dst = self._new(out)  # a wider buffer: copy the channels over

                def step(s=src, t=dst):
                    v = t.view()
                    np.copyto(v[:, :, :s.cp], s.view())
                    v[:, :, s.cp:] = 0  # a residual added in place may have filled them
                self.steps.append(step)
                return
            # the buffer's padding channels are zeros already: the same buffer, more channels
            self.tensors[id(out)] = src.alias(c=src.c + extra)
            return
        if src.layout == ("border", a) and a == b == c == d:
            # the producer already wrote into the padded buffer: alias it as plain
            t = src.alias(h=src.h + 2 * a, w=src.w + 2 * a, layout="plain",
                          vw=src.w + 2 * a, off=0)
            if self._layout_for(out) != "plain":
                raise NotImplementedError(f"native engine: {layer.name!r} output layout")
            self.tensors[id(out)] = t
            return
        dst = self._new(out)
        self.steps.append(lambda s=src, t=dst, a=a, c=c: np.copyto(
            t.view()[a:a + s.h, c:c + s.w, :s.cp], s.view()))

    def _plan_maxpool(self, layer, inp, out):
        src = self.tensors[id(inp)]
        if layer.padding != "valid" or isinstance(src, _Vector) or src.cp % 16:
            raise NotImplementedError(f"native engine: {layer.name!r} is not supported")
        (ph, pw), (sh, sw) = layer.pool_size, layer.strides
        dst = self._new(out)
        args = (src.buf.ctypes.data, src.vw, src.off, dst.buf.ctypes.data, dst.h, dst.w,
                dst.vw, dst.off, src.cp, ph, pw, sh, sw)
        self.steps.append(lambda f=self.lib.max_pool, a=args: f(*a))

    def _plan_dense(self, layer, inp, out):
        src = self.tensors[id(inp)]
        if not isinstance(src, _Vector):
            raise NotImplementedError(f"native engine: {layer.name!r} reads a feature map")
        kernel, bias = layer.get_weights()
        act = layer.get_config()["activation"]
        if act not in ("linear", "softmax", "relu"):
            raise NotImplementedError(f"native engine: {layer.name!r} activation {act}")
        units = kernel.shape[1]
        dst = self.tensors[id(out)] = _Vector(units)
        k = np.zeros((1, src.cp, units), np.float32)
        k[0, :kernel.shape[0]] = kernel
        packed, b = _pack(k, src.cp, dst.cp), _zeros(dst.cp)
        b[:units] = bias
        offs = np.zeros(1, np.int32)
        args = (src.buf.ctypes.data, src.cp, offs.ctypes.data, 1, src.cp, packed.ctypes.data,
                b.ctypes.data, None, dst.buf.ctypes.data, dst.cp, 1, dst.cp, int(act == "relu"),
                1, 1, 1, 0)
        call, keep = self.lib.conv_gemm, (offs, packed, b)
        if act == "softmax":
            def step(args=args, keep=keep, d=dst.buf[0, :units]):
                call(*args)
                d -= d.max()
                np.exp(d, out=d)
                d /= d.sum()
        else:
            def step(args=args, keep=keep):
                call(*args)
        self.steps.append(step)

    def _plan_elementwise(self, layer, ins, out, op):
        srcs = [self.tensors[id(t)] for t in ins]
        if any(isinstance(s, _Vector) for s in srcs):
            raise NotImplementedError(f"native engine: {layer.name!r} on vectors")
        if op == "relu" and layer.get_config()["activation"] != "relu":
            raise NotImplementedError(f"native engine: {layer.name!r} is not a ReLU")
        dst = self._new(out)
        if op == "relu":
            self.steps.append(lambda s=srcs[0], t=dst: np.maximum(s.view(), 0, out=t.view()))
        else:
            def step(s=srcs, t=dst):
                o = t.view()
                np.add(s[0].view(), s[1].view(), out=o)
                for extra in s[2:]:
                    o += extra.view()
            self.steps.append(step)

    # ---------------------------------------------------------------- running
    def _run_one(self, image):
        np.copyto(self.input.view()[:, :, :self.input.c], image)
        for step in self.steps:
            step()
        o = self.output
        return (o.buf[0, :o.c].copy() if isinstance(o, _Vector)
                else o.view()[:, :, :o.c].copy())

    def __call__(self, x):
        x = np.asarray(x, np.float32)
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"expected images of shape {self.input_shape}, got {x.shape[1:]}")
        return np.stack([self._run_one(img) for img in x])
