"""Lesson 5 exercises: chat.

Fill in each function below. The lesson (lessons/05-chat/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson05
"""

from vllm import LLM, SamplingParams
from vllm.outputs import RequestOutput

# A chat template for a model that has none (opt-125m is a base model): one
# line per message, "Role: content", then "Assistant:" when a reply is wanted.
SIMPLE_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def build_conversation(system: str | None, user: str) -> list[dict]:
    """Return the messages of a conversation that asks `user`: a message
    {"role": "system", "content": system} first when `system` is not None,
    then {"role": "user", "content": user}. Contents are kept exactly as
    given, an empty string or surrounding spaces included.

    Lesson section: "Messages and roles".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def render_prompt(llm: LLM, messages: list[dict], chat_template: str) -> str:
    """Return the text prompt that `chat_template` makes of `messages`, with
    the generation prompt added: the text llm.chat sends the model. Use the
    tokenizer of `llm` (apply_chat_template, tokenize=False).

    Lesson section: "What a chat template renders".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def chat_once(llm: LLM, messages: list[dict], chat_template: str,
              params: SamplingParams) -> RequestOutput:
    """Ask for the assistant's reply to `messages` with llm.chat, using
    `chat_template` and `params`. Return the one RequestOutput.

    Lesson section: "Chatting with a template".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def chat_batch(llm: LLM, conversations: list[list[dict]], chat_template: str,
               params: SamplingParams) -> list[str]:
    """Reply to every conversation in ONE llm.chat call (the engine holds
    them together); return the reply texts (the first completion of each),
    in the order of `conversations`.

    Lesson section: "A batch of conversations".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def continue_reply(llm: LLM, messages: list[dict], chat_template: str,
                   params: SamplingParams) -> str:
    """The last message of `messages` is the start of the assistant's reply.
    Continue that message (not a new one) with llm.chat, and return the
    whole reply: its start followed by the generated text (of the first
    completion, if params asks for several). Leave `messages` as it was.

    Lesson section: "Continuing the assistant's message".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def multi_turn(llm: LLM, system: str | None, user_turns: list[str], chat_template: str,
               params: SamplingParams) -> list[dict]:
    """Hold a conversation: start it with build_conversation(system, first
    turn), and for each user turn ask for a reply with llm.chat on the whole
    conversation so far, append the reply (the first completion's text) as an
    assistant message, then the next user turn. Return the whole
    conversation, the last reply included. Leave `user_turns` as it was.

    Lesson section: "Multi-turn conversations".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
