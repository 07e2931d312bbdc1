"""Generate a short Chinese corpus, "小小世界": the tiny-world stories told in Chinese.

    python data/make_corpus_zh.py       # writes data/corpus/tiny_world_zh.txt

Written for the course (nothing is downloaded) so chapter 5's character-level
mini GPT can be shown learning a language written without spaces. Like
`make_corpus.py`, each paragraph keeps its hero and place; every choice is
visible in the text.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HEROES = ["小明", "小红", "小兰", "小刚", "阿花", "阿强", "丁丁", "冬冬"]
PLACES = ["森林", "河边", "集市", "花园", "城堡", "海港", "草地", "图书馆"]
ANIMALS = ["小猫", "小狗", "狐狸", "猫头鹰", "青蛙", "小马", "兔子", "鸭子"]
ADJECTIVES = ["安静的", "快乐的", "聪明的", "困倦的", "勇敢的", "年老的", "小小的"]
COLORS = ["红色的", "蓝色的", "绿色的", "黄色的", "白色的"]
THINGS = ["皮球", "书", "风筝", "帽子", "灯笼", "钥匙", "苹果", "蛋糕"]
FEELINGS = ["高兴", "累", "骄傲", "饿", "好奇", "平静"]
WEATHER = ["晴朗", "下雨", "刮风", "寒冷", "温暖"]
COUNTS = ["两", "三", "四", "五"]


def paragraph(rng: np.random.Generator) -> str:
    pick = lambda options: options[rng.integers(len(options))]  # noqa: E731
    hero, place = pick(HEROES), pick(PLACES)
    sentences = [f"有一天，{hero}去了{place}。"]
    for _ in range(rng.integers(1, 5)):
        kind = rng.integers(5)
        who = pick([hero, "他" if hero in ("小明", "小刚", "阿强", "冬冬") else "她"])
        if kind == 0:
            sentences.append(f"{who}在{place}看见了一只{pick(ADJECTIVES)}{pick(ANIMALS)}。")
        elif kind == 1:
            sentences.append(f"{who}找到了一个{pick(COLORS)}{pick(THINGS)}，把它带回了家。")
        elif kind == 2:
            sentences.append(f"天气{pick(WEATHER)}，{who}觉得很{pick(FEELINGS)}。")
        elif kind == 3:
            sentences.append(f"{who}在{place}数了{pick(COUNTS)}只{pick(ANIMALS)}。")
        else:
            friend = pick([h for h in HEROES if h != hero])
            sentences.append(f"{who}把{pick(THINGS)}送给了{friend}。")
    sentences.append(pick(["故事讲完了。", f"后来{hero}回家了。", f"{hero}很喜欢{place}。"]))
    return "".join(sentences) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "corpus" / "tiny_world_zh.txt"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    parts, total = [], 0
    while total < args.chars:
        parts.append(paragraph(rng))
        total += len(parts[-1])
    args.out.write_text("".join(parts), encoding="utf-8")
    print(
        f"wrote {args.out.name}: {total:,} characters, {len(parts):,} paragraphs, "
        f"{len(set(''.join(parts)))} distinct characters"
    )


if __name__ == "__main__":
    main()
