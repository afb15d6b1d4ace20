"""Lesson 5 walkthrough: a multi-turn chat with a model that has no chat template.

Asks each question on the command line in turn, keeping the whole
conversation, and prints the prompt the template rendered for the last
turn. Run it from the repository root:

    python lessons/05-chat/chat_demo.py "What is the capital of France?" "And the capital of the United States?"

The model comes from the kit (`course model` says which one and why).
"""

import argparse

from vllm import LLM, SamplingParams

from vllm_course.models.model_resolution import resolve

# One line per message, "Role: content", then the cue for the assistant's turn.
SIMPLE_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", nargs="*", default=["What is the capital of France?",
                                                          "And the capital of the United States?"])
    parser.add_argument("--system", default="You are a helpful assistant.")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    chosen = resolve()
    if chosen.notice:
        print(chosen.notice)
    llm = LLM(model=chosen.model)
    # Stop where the model would start writing the user's next line.
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, stop=["\nUser:"])

    messages = [{"role": "system", "content": args.system}] if args.system else []
    for question in args.questions:
        messages.append({"role": "user", "content": question})
        [output] = llm.chat(messages, params, chat_template=SIMPLE_TEMPLATE, use_tqdm=False)
        reply = output.outputs[0].text.strip()
        messages.append({"role": "assistant", "content": reply})
        print(f"user:      {question}\nassistant: {reply}")
    print("\nThe prompt of the last turn, as the template rendered it:\n" + output.prompt)


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
