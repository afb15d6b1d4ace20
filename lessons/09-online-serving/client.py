"""Lesson 9 walkthrough: ask a running vLLM server for a completion.

Sends the prompt to the server's OpenAI-compatible API with the openai
client and prints the text: a completion, or with --chat the assistant's
reply to the prompt as a user message; --stream prints it as it comes.
Start the server first (python lessons/09-online-serving/serve.py), then,
from the repository root:

    python lessons/09-online-serving/client.py "The capital of France is"
    python lessons/09-online-serving/client.py "What is the capital of France?" --chat --stream
"""

import argparse
import os
import sys

import openai
from openai import OpenAI


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompt", help="the prompt; with --chat, the user's message")
    # Like the openai client, take the default from OPENAI_BASE_URL when it is set.
    parser.add_argument("--base-url",
                        default=os.environ.get("OPENAI_BASE_URL") or "http://localhost:8000/v1",
                        help="the server's API, ending in /v1 (default: $OPENAI_BASE_URL, "
                             "else http://localhost:8000/v1)")
    parser.add_argument("--model", help="a served model name (default: the server's first)")
    parser.add_argument("--max-tokens", type=int, default=32,
                        help="at most this many new tokens (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="0 is greedy (default: %(default)s)")
    parser.add_argument("--stream", action="store_true", help="print the text as it arrives")
    parser.add_argument("--chat", action="store_true",
                        help="send the prompt as a user message to /v1/chat/completions")
    args = parser.parse_args()

    # vLLM checks no key unless it was started with --api-key; the client wants one anyway.
    client = OpenAI(base_url=args.base_url, api_key="EMPTY")
    try:
        model = args.model or client.models.list().data[0].id
        params = dict(model=model, max_tokens=args.max_tokens, temperature=args.temperature,
                      stream=args.stream)
        if args.chat:
            # A base model does not know where its turn ends: stop where the lesson's
            # template would start the user's next line.
            messages = [{"role": "user", "content": args.prompt}]
            response = client.chat.completions.create(messages=messages, stop=["\nUser:"],
                                                      **params)
        else:
            response = client.completions.create(prompt=args.prompt, **params)
        if args.stream:
            for chunk in response:
                if chunk.choices:
                    piece = chunk.choices[0].delta.content if args.chat else chunk.choices[0].text
                    print(piece or "", end="", flush=True)
            print()
        elif args.chat:
            print(response.choices[0].message.content)
        else:
            print(response.choices[0].text)
    except openai.APIConnectionError:
        print(f"error: no server answers at {args.base_url}. Start one first with "
              "`python lessons/09-online-serving/serve.py` and wait for "
              "'Application startup complete.', or check --base-url.", file=sys.stderr)
        return 1
    except openai.APIStatusError as e:  # the server answered with an error (400, 404...)
        # vLLM's own words are the body's "message"; e.message adds "Error code: ..." to them.
        said = e.body.get("message") if isinstance(e.body, dict) else None
        print(f"error: the server said {e.status_code}: {said or e.message}", file=sys.stderr)
        return 1
    return 0


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    sys.exit(main())
