"""Model cards: the weights catalogue as rows and as the Markdown of ``docs/weights.md``.

Everything here is read from the registry (``weights/registry.json``) and the network
specs (parameter and multiply-add counts), so the page and ``keras-resnet weights``
cannot drift from what ``weights=`` loads; a test regenerates the page and compares.
Pure Python: no Keras, no TensorFlow.
"""

from __future__ import annotations

from ..arch.specs import get_spec
from .registry import WeightsEntry, load_registry, not_registered
from .weights import Weights, get_weights

COLUMNS = ("weights", "top-1 (published)", "params", "GMACs", "train / test px", "file",
           "licence", "eval transform", "recipe", "load it")


def eval_transform(entry: WeightsEntry) -> str:
    """The publisher's evaluation transform in words, e.g. ``"shorter side 235
    bicubic, centre 224, mean/std"``."""
    norm = {"caffe": "Caffe BGR mean", "torch": "mean/std", "pixel_mean": "per-pixel mean",
            "tf": "[-1, 1]"}.get(entry.preprocessing.get("mode"), entry.preprocessing.get("mode"))
    if entry.input_shape:  # trained here at a fixed size
        h, w, c = entry.input_shape
        return f"{h}x{w}x{c} as trained, {norm}"
    return f"shorter side {entry.resize} {entry.interpolation}, centre {entry.crop}, {norm}"


def load_line(entry: WeightsEntry) -> str:
    """The one line of Python that builds the network with these weights."""
    spec = get_spec(entry.arch)
    short = entry.tag.split(".", 1)[1]
    return f'keras_resnet.{spec.constructor_name}(weights="{short}")'


_RECIPES = (("2110.00476", "ResNet strikes back"), ("vision/issues/3995", "torchvision 2021"),
            ("references/classification", "torchvision reference"),
            ("KaimingHe", "He et al. 2015 (Caffe)"), ("pytorch-image-models", "timm"))


def recipe(entry: WeightsEntry) -> str:
    """The publisher's recipe as a link, or for weights trained here the ``train``
    options that made them (the registry holds the whole command)."""
    if entry.recipe:
        label = next((name for part, name in _RECIPES if part in entry.recipe), "recipe")
        return f"[{label}]({entry.recipe})"
    if entry.command:
        words = entry.command.split()
        opts = [f"{w} {words[i + 1]}" for i, w in enumerate(words)
                if w in ("--recipe", "--epochs")]
        return "`keras-resnet train " + " ".join(opts) + "`"
    return ""


def rows(arch: str | None = None) -> list[dict]:
    """One dict per registered weights (optionally of one architecture), in registry
    order, with the :data:`COLUMNS` as keys (strings)."""
    entries, _ = load_registry()
    out = []
    for tag, e in entries.items():
        if arch is not None and e.arch != get_spec(arch).name:
            continue
        meta = Weights(e).meta  # counts on the weights' own graph (v1.5: +6% MACs)
        top1 = f"{e.metrics['top1']:.2f}%"
        if e.metrics.get("top1_at_288"):
            top1 += f" ({e.metrics['top1_at_288']:.2f}% at 288)"
        size = e.files["top"].get("size")
        out.append({
            "weights": tag,
            "top-1 (published)": top1,
            "params": f"{meta['params'] / 1e6:.2f} M",
            "GMACs": f"{meta['gmacs']:.2f}",
            "train / test px": f"{meta['train_size']} / {meta['test_size']}",
            "file": f"{e.format}, {size / 1e6:.1f} MB" if size else e.format,
            "licence": e.license,
            "eval transform": eval_transform(e),
            "recipe": recipe(e),
            "load it": f"`{load_line(e)}`",
        })
    return out


def table(arch: str | None = None) -> str:
    """The rows as one Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in rows(arch)]
    return "\n".join(lines)


def best_table() -> str:
    """The README's table: for each network with published ImageNet weights, the
    registered weights of the highest published top-1 (Markdown)."""
    best = {}
    entries, _ = load_registry()
    for row, e in zip(rows(), entries.values()):
        if e.classes == 1000 and not e.input_shape and (
                e.arch not in best or e.metrics["top1"] > best[e.arch][1].metrics["top1"]):
            best[e.arch] = (row, e)
    lines = ["| network | weights | top-1 (published) | load it |", "|---|---|---|---|"]
    lines += [f"| {get_spec(arch).constructor_name} | `{e.tag}` | {row['top-1 (published)']} "
              f"| {row['load it']} |" for arch, (row, e) in best.items()]
    return "\n".join(lines)


def catalogue_markdown() -> str:
    """The whole of ``docs/weights.md``: one section per architecture."""
    entries, defaults = load_registry()
    archs = list(dict.fromkeys(e.arch for e in entries.values()))
    parts = [
        "# Pretrained weights",
        "",
        "Generated from `weights/registry.json` by `keras-resnet weights --markdown` "
        "(a test keeps this page equal to it). Top-1 is the publisher's number on its "
        "own protocol (the registry names the source of each); params and GMACs are "
        "counted here at the weights' input size. `weights=\"imagenet\"` means what it "
        "means in keras.applications and torchvision: "
        + ", ".join(f"{a} -> `{t}`" for a, t in defaults.get("imagenet", {}).items())
        + ".",
    ]
    for arch in archs:
        spec = get_spec(arch)
        parts += ["", f"## {spec.constructor_name} (`{arch}`)", "",
                  f"Model cards: [weights/{arch}.md](weights/{arch}.md).", "", table(arch)]
    parts += ["", "## Published but not registered", "",
              "Every registered file is checked before use against its publisher's hash "
              "(hub files: the full SHA-256; torchvision's `.pth`: the SHA-256 prefix in "
              "its file name; keras.applications: Keras' MD5). These weights are public "
              "but left out:", ""]
    parts += [f"* {name}: {why}." for name, why in not_registered().items()]
    return "\n".join(parts) + "\n"


def _norm_words(entry: WeightsEntry) -> str:
    p = entry.preprocessing
    if p.get("mode") == "pixel_mean":
        return f"x / 255 minus the per-pixel mean image `{p['mean_file']}` (shipped)"
    if p.get("mode") == "caffe":
        return "RGB -> BGR, minus the ImageNet BGR mean (103.939, 116.779, 123.68), no scaling"
    if p.get("mode") == "tf":
        return "x / 127.5 - 1 (range [-1, 1])"
    return (f"x / 255, minus mean {tuple(p['mean'])}, divided by std {tuple(p['std'])}, "
            f"{p.get('channel_order', 'RGB')}")


def card(tag: str) -> str:
    """One weight's model card (Markdown): what it is, where the file comes from and how
    it is verified, its published accuracy with the source, its eval transform, and how
    to load it."""
    w = get_weights(tag)
    e, meta = w.entry, w.meta
    record = e.files["top"]
    m = e.metrics
    top = f"{m['top1']:.3f}%" + (f" / {m['top5']:.3f}%" if m.get("top5") else "")
    if m.get("top1_at_288"):
        top += f" (top-1 {m['top1_at_288']:.3f}% at 288 px)"
    size = f", {record['size']:,} bytes" if record.get("size") else ""
    hf = record.get("hf")
    where = (f"from the Hugging Face hub, `{hf['repo_id']}` at revision `{hf['revision']}`"
             if hf else ("shipped inside the package" if record.get("package")
                         else "from " + ", ".join(f"<{u}>" for u in record["urls"])))
    lines = [
        f"### {tag}", "",
        f"- **Published accuracy** (top-1 / top-5): {top}; {m.get('protocol', '')}. "
        f"Source: {m['source']}.",
        f"- **Network**: `{e.arch}`, stride placement {e.stride_placement}; "
        f"{meta['params']:,} parameters, {meta['gmacs']:.2f} GMACs at "
        f"{meta['test_size']} px.",
        f"- **Eval transform**: {eval_transform(e)}; normalisation: {_norm_words(e)}.",
        f"- **Trained at**: {meta['train_size']} px; recipe: "
        + (recipe(e) or "not recorded") + ".",
        f"- **File**: `{record['file_name']}` ({e.format}{size}), {where}; "
        f"hash `{record['hash']}`"
        + (f" ({record['hash_source']})" if record.get("hash_source") else "") + ".",
        f"- **Origin**: {e.origin}. **Licence**: {e.license}.",
        f"- **Load**: `{load_line(e)}`, or `keras_resnet.load_pretrained(\"{tag}\")` for "
        "the model with its eval transform (`get_weights(tag).transforms()`).",
    ]
    if e.command:
        lines.append(f"- **Reproduce**: `{e.command}`.")
    return "\n".join(lines)


def arch_page(arch: str) -> str:
    """The page ``docs/weights/<arch>.md``: the architecture's table and one model card
    per registered weight."""
    spec = get_spec(arch)
    tags = [t for t, e in load_registry()[0].items() if e.arch == spec.name]
    parts = [f"# {spec.constructor_name} (`{spec.name}`): pretrained weights", "",
             "Generated from the registry by `keras-resnet weights --markdown --arch "
             f"{spec.name}` (a test keeps it equal). Back to the [catalogue](../weights.md).",
             "", table(spec.name)]
    for tag in tags:
        parts += ["", card(tag)]
    return "\n".join(parts) + "\n"


def arch_pages() -> dict[str, str]:
    """``{architecture: page}`` for every architecture with registered weights."""
    entries, _ = load_registry()
    return {arch: arch_page(arch) for arch in dict.fromkeys(e.arch for e in entries.values())}
