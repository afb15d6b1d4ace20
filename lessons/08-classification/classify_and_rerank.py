"""Lesson 8 walkthrough: classify sentences, then rerank passages for a query.

Labels each sentence on the command line with the classifier, then scores
lesson 7's passages against --query with the cross-encoder. Run it from the
repository root:

    python lessons/08-classification/classify_and_rerank.py "Profits rose sharply." --query "will it rain tomorrow"

The models come from the kit (`course model` says which ones and why).
"""

import argparse
from pathlib import Path

from vllm import LLM

from vllm_course.course.manifest import course
from vllm_course.models.model_resolution import resolve

CORPUS = Path(__file__).parent.parent / "07-embeddings" / "passages.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="*", default=["Profits rose sharply."])
    parser.add_argument("--query", default="Where can I see the Eiffel Tower?")
    parser.add_argument("-k", type=int, default=3, help="passages to show")
    args = parser.parse_args()

    classifier_model, scorer_model = course().models_of(course().lesson("lesson08"))
    chosen = [resolve(classifier_model), resolve(scorer_model)]
    for c in chosen:
        if c.notice:
            print(c.notice)
    classifier = LLM(model=chosen[0].model, runner="pooling")
    id2label = classifier.model_config.hf_config.id2label
    labels = [id2label[i] for i in range(len(id2label))]
    for text, out in zip(args.texts, classifier.classify(args.texts, use_tqdm=False)):
        probs = dict(zip(labels, out.outputs.probs))
        label = max(probs, key=probs.get)
        print(f"{label:8} {probs[label]:.2f}  {text}")

    scorer = LLM(model=chosen[1].model, runner="pooling")
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    passages = [l.strip() for l in lines if l.strip() and not l.startswith("#")]
    scores = [o.outputs.score for o in scorer.score(args.query, passages, use_tqdm=False)]
    print(f"\n{args.query}")
    for i in sorted(range(len(passages)), key=lambda i: -scores[i])[:args.k]:
        print(f"  {scores[i]:.3f}  {passages[i]}")


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
