"""Lesson 7 walkthrough: semantic search over a small corpus.

Embeds the passages of passages.txt (next to this file) and each query given
on the command line, and prints the passages most similar to each query. Run
it from the repository root:

    python lessons/07-embeddings/semantic_search.py "Where can I see the Eiffel Tower?"

The model comes from the kit (`course model` says which one and why).
"""

import argparse
import math
from pathlib import Path

from vllm import LLM

from vllm_course.course.manifest import course
from vllm_course.models.model_resolution import resolve

CORPUS = Path(__file__).with_name("passages.txt")


def load_passages(path: Path = CORPUS) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queries", nargs="*", default=["Where can I see the Eiffel Tower?"])
    parser.add_argument("-k", type=int, default=3, help="passages to show per query")
    args = parser.parse_args()

    chosen = resolve(course().model_of(course().lesson("lesson07")))
    if chosen.notice:
        print(chosen.notice)
    llm = LLM(model=chosen.model, runner="pooling")

    passages = load_passages()
    # One call for everything: the engine batches the texts itself.
    outputs = llm.embed(args.queries + passages, use_tqdm=False)
    vectors = [o.outputs.embedding for o in outputs]
    queries, corpus = vectors[:len(args.queries)], vectors[len(args.queries):]
    for query, q in zip(args.queries, queries):
        scores = [cosine(q, p) for p in corpus]
        best = sorted(range(len(passages)), key=lambda i: -scores[i])[:args.k]
        print(f"\n{query}")
        for i in best:
            print(f"  {scores[i]:.3f}  {passages[i]}")


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
