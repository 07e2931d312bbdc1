"""Draw the chapter map (how the eight chapters build on each other) for both READMEs.

    python docs/make_chapter_map.py      # writes docs/chapter_map.png

Labels are bilingual (English / 中文); CJK glyphs use the first font found that has
them (Noto Sans CJK, WenQuanYi, …), falling back to English only if none is installed.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("chapter_map.png")

CHAPTERS = {  # id: (x, y, English, 中文, what it hands on)
    1: (
        0.5,
        4.4,
        "1  Logistic regression & ReLU",
        "逻辑回归与 ReLU",
        "softmax output, cross-entropy,\nbigram LM baseline",
    ),
    2: (
        0.5,
        3.0,
        "2  LSTM seq2seq",
        "LSTM 编码器–解码器",
        "embeddings, teacher forcing,\nsequence loss, decoding",
    ),
    3: (
        3.6,
        4.4,
        "3  Autoencoders",
        "自编码器",
        "reconstruction losses,\nautoencoding vs autoregressive",
    ),
    4: (
        3.6,
        3.0,
        "4  Self-attention",
        "自注意力",
        "attention, masks, positions,\nTransformer block",
    ),
    5: (
        2.05,
        1.6,
        "5  Mini GPT, distributed",
        "迷你 GPT 与分布式训练",
        "decoder-only Transformer\nunder tf.distribute",
    ),
    6: (
        0.5,
        0.2,
        "6  Fine-tuning",
        "从预训练到微调",
        "SFT with a loss mask, LoRA,\nscratch vs prompting, ROUGE-L",
    ),
    7: (
        3.6,
        0.2,
        "7  Making it small",
        "模型压缩与加速",
        "KV cache, distillation,\nint8 quantization, pruning",
    ),
    8: (
        4.45,
        1.6,
        "8  Subword tokens",
        "子词词元：字节级 BPE",
        "byte-level BPE, pre-tokens,\nloss per character",
    ),
}
EDGES = [(1, 2), (1, 3), (2, 4), (1, 5), (4, 5), (2, 5), (3, 5), (5, 6), (5, 7), (5, 8)]


def cjk_font():
    for name in (
        "Noto Sans CJK SC",
        "Noto Sans CJK JP",
        "WenQuanYi Zen Hei",
        "WenQuanYi Micro Hei",
        "Source Han Sans SC",
        "SimHei",
        "AR PL UMing CN",
    ):
        if any(f.name == name for f in font_manager.fontManager.ttflist):
            return name
    return None


def main() -> None:
    font = cjk_font()
    fig, ax = plt.subplots(figsize=(8.6, 6.6), dpi=80)
    ax.set_xlim(-0.2, 6.7)
    ax.set_ylim(-0.4, 5.55)
    ax.axis("off")
    width, height = 2.1, 0.95
    for x, y, english, chinese, hands_on in CHAPTERS.values():
        ax.add_patch(
            FancyBboxPatch(
                (x, y), width, height, boxstyle="round,pad=0.04", fc="#eef4fb", ec="#2b5d8a"
            )
        )
        ax.text(
            x + width / 2,
            y + height - 0.2,
            english,
            ha="center",
            va="center",
            fontsize=10,
            weight="bold",
        )
        if font:
            ax.text(
                x + width / 2,
                y + height - 0.43,
                chinese,
                ha="center",
                va="center",
                fontsize=9,
                family=font,
            )
        ax.text(
            x + width / 2, y + 0.2, hands_on, ha="center", va="center", fontsize=7.5, color="#444"
        )
    for a, b in EDGES:
        (xa, ya), (xb, yb) = CHAPTERS[a][:2], CHAPTERS[b][:2]
        start = (xa + width / 2, ya) if ya > yb + 0.5 else (xa + width, ya + height / 2)
        end = (xb + width / 2, yb + height) if ya > yb + 0.5 else (xb, yb + height / 2)
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops=dict(
                arrowstyle="->", color="#2b5d8a", lw=1.2, connectionstyle="arc3,rad=0.05"
            ),
        )
    ax.set_title(
        "How the chapters build on each other" + (" · 章节之间的关系" if font else ""),
        fontsize=11,
        family=font or "sans-serif",
    )
    fig.savefig(OUT, bbox_inches="tight")
    print(f"wrote {OUT.name}")


if __name__ == "__main__":
    main()
