"""Which model answers: the real one or an offline stand-in built from a
recipe, the encoder stand-ins and the practice LoRA adapters.

May import: course, runtime."""
