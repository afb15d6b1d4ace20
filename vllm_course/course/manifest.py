"""course.yaml: the one manifest of the course, loaded and checked.

Everything else (graders, stub generator, nbgrader builder, CLI) reads course
metadata from here. A malformed file fails with the file, the field, what was
expected and what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from vllm_course.course.recipes import RECIPES
from vllm_course.course.paths import MANIFEST_PATH, REPO_ROOT


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class Exercise:
    function: str
    points: int
    hint: str
    more: str  # a second, more revealing hint (`course hint FUNCTION --more`)
    section: str  # heading of the lesson section that teaches it


@dataclass(frozen=True)
class Model:
    """A model lessons run on (course.yaml `models`)."""
    name: str  # the real model's Hugging Face id
    stand_in: str  # the offline_model recipe built when the real model cannot be had
    env: str  # the environment variable that chooses another model in its place
    # A second stand-in recipe, trained differently, that no grader was tuned
    # on: the test matrix grades the lessons on it too. None: no such recipe.
    unseen: str | None = None


@dataclass(frozen=True)
class Lesson:
    id: str  # lessonNN: names exercises/lessonNN, solutions/lessonNN, graders/lessonNN
    title: str
    folder: str  # lessons/NN-slug
    exercise_file: str  # file name inside exercises/<id>/ and solutions/<id>/
    exercises: tuple[Exercise, ...]
    # Keyword arguments of LLM(...) for the engine the kit makes for this
    # lesson's checks (lesson 6 needs a structured-outputs config); default none.
    engine: dict = field(default_factory=dict, compare=False)
    model: str = ""  # the hub id of its model (a key of Course.models)
    also: tuple[str, ...] = ()  # other models its checks load (lesson 8's cross-encoder)
    # The exercise whose engine the checks share when it works (else the kit
    # makes its own): lesson 1's create_llm, lesson 7's create_embedder.
    engine_factory: str = "create_llm"
    # Extra `vllm serve` flags when its checks talk to a server of its model
    # that the kit starts (lesson 9); None when they need none.
    serve: tuple[str, ...] | None = None
    # Gradescope's visibility for the result of an exercise that has a hidden
    # check (course.yaml `hidden_visibility`, one of VISIBILITIES).
    hidden_visibility: str = "after_published"

    # Every layout path of a lesson is built here, and only here.
    @property
    def exercise_path(self) -> Path:
        return REPO_ROOT / "exercises" / self.id / self.exercise_file

    @property
    def solution_path(self) -> Path:
        return REPO_ROOT / "solutions" / self.id / self.exercise_file

    @property
    def graders_dir(self) -> Path:
        return REPO_ROOT / "graders" / self.id

    def grader_files(self) -> list[Path]:
        return sorted(self.graders_dir.glob("test_*.py"))

    @property
    def readme(self) -> Path:
        return REPO_ROOT / self.readme_link

    @property
    def readme_link(self) -> str:
        """The README's path from the repository root, as lessons and feedback link it."""
        return f"{self.folder}/README.md"

    @property
    def notebook_name(self) -> str:
        return f"{self.id}.ipynb"

    @property
    def max_points(self) -> int:
        return sum(e.points for e in self.exercises)

    def exercise(self, function: str) -> Exercise:
        for e in self.exercises:
            if e.function == function:
                return e
        raise KeyError(f"{self.id} has no exercise {function!r} in course.yaml")


@dataclass(frozen=True)
class Course:
    title: str
    vllm_version: str
    default_model: str
    lessons: tuple[Lesson, ...]
    path: Path
    models: dict = field(default_factory=dict, compare=False)  # hub id -> Model

    def model_of(self, lesson: Lesson) -> Model:
        return self.models[lesson.model]

    def models_of(self, lesson: Lesson) -> list[Model]:
        """Every model the lesson's checks load: its own first."""
        return [self.models[name] for name in (lesson.model, *lesson.also)]

    def exercise(self, function: str) -> tuple[Lesson, Exercise]:
        for lesson in self.lessons:
            for e in lesson.exercises:
                if e.function == function:
                    return lesson, e
        raise KeyError(function)

    def lesson(self, lesson_id: str) -> Lesson:
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        known = ", ".join(l.id for l in self.lessons) or "none"
        raise ManifestError(f"{self.path}: no lesson {lesson_id!r} (lessons: {known})")

    def closest_lesson(self, name: str) -> str | None:
        """The lesson id a mistyped `name` most likely meant, or None.

        The number decides first: "lesson1" means lesson01, not lesson10, though
        both are one edit away.
        """
        import difflib

        def number(text: str) -> int | None:
            digits = re.search(r"\d+", text)
            return int(digits[0]) if digits else None

        known = [l.id for l in self.lessons]
        wanted = number(name)
        same = [i for i in known if wanted is not None and number(i) == wanted]
        if same:
            return same[0]
        close = difflib.get_close_matches(name, known, n=1)
        return close[0] if close else None


def _field(data: dict, key: str, kind: type, where: str, path: Path) -> Any:
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: {where} must be a mapping, found {type(data).__name__}")
    if key not in data:
        raise ManifestError(f"{path}: {where}.{key} is missing (expected {kind.__name__})")
    value = data[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ManifestError(
            f"{path}: {where}.{key} must be {kind.__name__}, "
            f"found {type(value).__name__} {value!r}"
        )
    return value


def _one_of(raw: Any, key: str, choices, default: str, where: str, path: Path, what: str) -> str:
    """An optional string field whose value must be one of `choices`."""
    if not (isinstance(raw, dict) and key in raw):
        return default
    value = _field(raw, key, str, where, path)
    if value not in choices:
        raise ManifestError(f"{path}: {where}.{key} must {what}, found {value!r}")
    return value


def _engine(raw: dict, where: str, path: Path) -> dict:
    if "engine" not in raw:
        return {}
    options = _field(raw, "engine", dict, where, path)
    for key in options:
        if not isinstance(key, str) or not _IDENT.match(key):
            raise ManifestError(f"{path}: {where}.engine must map LLM keyword arguments to "
                                f"values, found the key {key!r}")
    return options


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's


_ENV = re.compile(r"^VLLM_COURSE_[A-Z0-9_]*MODEL$")


def _models(data: dict, path: Path) -> dict[str, Model]:
    models, envs = {}, set()
    for name, raw in _field(data, "models", dict, "course", path).items():
        where = f"models[{name!r}]"
        if not isinstance(name, str) or name.count("/") != 1:
            raise ManifestError(f"{path}: models must be keyed by Hugging Face ids such as "
                                f"facebook/opt-125m, found the key {name!r}")
        stand_in = _field(raw, "stand_in", str, where, path)
        if stand_in not in RECIPES:
            raise ManifestError(f"{path}: {where}.stand_in must be one of the kit's offline "
                                f"recipes {sorted(RECIPES)}, found {stand_in!r}")
        env = _field(raw, "env", str, where, path)
        if not _ENV.match(env) or env in envs:
            raise ManifestError(f"{path}: {where}.env must be a variable of its own named "
                                f"VLLM_COURSE_..._MODEL, found {env!r}")
        envs.add(env)
        unseen = raw.get("unseen") if isinstance(raw, dict) else None
        if unseen is not None and (unseen not in RECIPES or unseen == stand_in):
            raise ManifestError(f"{path}: {where}.unseen must be another of the kit's offline "
                                f"recipes {sorted(RECIPES)}, found {unseen!r}")
        models[name] = Model(name, stand_in, env, unseen)
    return models


def parse(data: Any, path: Path) -> Course:
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    default_model = _field(data, "default_model", str, "course", path)
    models = _models(data, path)
    if default_model not in models:
        raise ManifestError(f"{path}: course.default_model {default_model!r} must be one of "
                            f"models ({', '.join(models) or 'none'})")
    lessons = []
    seen: set[str] = set()
    all_functions: dict[str, str] = {}
    for i, raw in enumerate(_field(data, "lessons", list, "course", path)):
        where = f"lessons[{i}]"
        lesson_id = _field(raw, "id", str, where, path)
        if not re.fullmatch(r"lesson\d\d", lesson_id):
            raise ManifestError(f"{path}: {where}.id must look like lesson01, found {lesson_id!r}")
        if lesson_id in seen:
            raise ManifestError(f"{path}: {where}.id {lesson_id!r} appears twice")
        seen.add(lesson_id)
        exercises = []
        functions: set[str] = set()
        for j, ex in enumerate(_field(raw, "exercises", list, where, path)):
            ewhere = f"{where}.exercises[{j}]"
            function = _field(ex, "function", str, ewhere, path)
            if not _IDENT.match(function) or function in functions:
                raise ManifestError(
                    f"{path}: {ewhere}.function must be a unique Python name, found {function!r}"
                )
            if function in all_functions:  # `course hint f` must name one exercise
                raise ManifestError(f"{path}: {ewhere}.function {function!r} is also an exercise "
                                    f"of {all_functions[function]}: exercise names are unique "
                                    "across the course")
            all_functions[function] = lesson_id
            functions.add(function)
            points = _field(ex, "points", int, ewhere, path)
            if points <= 0:
                raise ManifestError(f"{path}: {ewhere}.points must be positive, found {points}")
            exercises.append(
                Exercise(
                    function=function,
                    points=points,
                    hint=_field(ex, "hint", str, ewhere, path),
                    more=_field(ex, "more", str, ewhere, path),
                    section=_field(ex, "section", str, ewhere, path),
                )
            )
        model = raw.get("model", default_model) if isinstance(raw, dict) else default_model
        also = raw.get("also", []) if isinstance(raw, dict) else []
        if not isinstance(also, list):
            raise ManifestError(f"{path}: {where}.also must be a list of models, found {also!r}")
        for key, name in [("model", model)] + [("also", a) for a in also]:
            if name not in models:
                raise ManifestError(f"{path}: {where}.{key} must name models of the course "
                                    f"({', '.join(models)}), found {name!r}")
        factory = _one_of(raw, "engine_factory", functions, "create_llm", where, path,
                          "name one of the lesson's exercises")
        serve = None
        if isinstance(raw, dict) and "serve" in raw:
            serve = raw["serve"]
            if not isinstance(serve, list) or not all(isinstance(a, str) for a in serve):
                raise ManifestError(f"{path}: {where}.serve must be a list of `vllm serve` "
                                    f"flags (strings), found {serve!r}")
            serve = tuple(serve)
        visibility = _one_of(raw, "hidden_visibility", VISIBILITIES, "after_published", where,
                             path, "be one of " + ", ".join(VISIBILITIES))
        lessons.append(
            Lesson(
                id=lesson_id,
                title=_field(raw, "title", str, where, path),
                folder=_field(raw, "folder", str, where, path),
                exercise_file=_field(raw, "exercise_file", str, where, path),
                exercises=tuple(exercises),
                engine=_engine(raw, where, path),
                model=model,
                also=tuple(also),
                engine_factory=factory,
                serve=serve,
                hidden_visibility=visibility,
            )
        )
    return Course(
        title=_field(data, "title", str, "course", path),
        vllm_version=str(_field(data, "vllm_version", str, "course", path)),
        default_model=default_model,
        lessons=tuple(lessons),
        path=path,
        models=models,
    )


def load(path: Path | str = MANIFEST_PATH) -> Course:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the course manifest ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ManifestError(f"{path}: not valid YAML: {e}") from None
    return parse(data, path)


@lru_cache(maxsize=1)
def course() -> Course:
    """The repository's own course.yaml, loaded once per process."""
    return load(MANIFEST_PATH)
