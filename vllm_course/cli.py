"""`course`: the kit's command line. Subcommands are added as lessons need them."""

from __future__ import annotations

import argparse
import sys


def _cmd_model(args: argparse.Namespace) -> int:
    """One block per model of course.yaml: the default (text) model first."""
    from vllm_course.course.manifest import course
    from vllm_course.models.model_resolution import ModelResolutionError, resolve

    c = course()
    status = 0
    for i, spec in enumerate(sorted(c.models.values(), key=lambda m: m.name != c.default_model)):
        users = [l.id for l in c.lessons if l.model == spec.name]
        if i:
            print()
        try:
            chosen = resolve(spec, progress=lambda line: print(line, file=sys.stderr))
        except ModelResolutionError as e:
            print(f"course model: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"model:  {chosen.name}")
        print(f"for:    {', '.join(users) or 'no lesson yet'} (set {spec.env} to change it)")
        print(f"path:   {chosen.model}")
        print(f"source: {chosen.source} ({chosen.reason})")
        if chosen.source == "offline":
            print(f"To use the real model: hf download {spec.name}")
    return status


def _cmd_model_build(args: argparse.Namespace) -> int:
    from vllm_course.models import offline_model

    if args.force:
        path = offline_model.build(args.recipe)
    else:
        path = offline_model.ensure_built(args.recipe)
    print(path)
    return 0


def _cmd_stubs(args: argparse.Namespace) -> int:
    from vllm_course.course.manifest import REPO_ROOT, ManifestError, course
    from vllm_course.authoring.stubs import StubError, write_stubs

    try:
        changed = write_stubs(course(), args.lessons or None)
    except (ManifestError, StubError) as e:
        print(f"course stubs: {e}", file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(f"course stubs: no solution file {e.filename}: write the lesson's solutions "
              "first (see README.md, 'To add a lesson')", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not changed:
        print("exercise stubs are up to date")
    return 0


def _cmd_nbgrader_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vllm_course.course.manifest import ManifestError, course
    from vllm_course.instructor.nbgrader_build import build

    try:
        written = build(course(), Path(args.out), args.lessons or None)
    except ManifestError as e:
        print(f"course nbgrader build: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from vllm_course.authoring.consistency import problems
    from vllm_course.course.manifest import ManifestError, course

    try:
        found = problems(course())
    except ManifestError as e:
        found = [str(e)]
    for problem in found:
        print(problem)
    if found:
        sys.stdout.flush()
        print(f"course check: {len(found)} problem(s)", file=sys.stderr)
        return 1
    from vllm_course.authoring.contracts import untabled

    print(f"course check: {len(course().lessons)} lessons, every part in place")
    pending = untabled(course())
    if pending:  # said, not hidden: their docstring clauses are not yet mapped to checks
        print(f"course check: no contract table yet in tests/contracts.yaml for {', '.join(pending)}")
    return 0


def _lesson_or_exit(lesson_id: str, command: str):
    """The lesson named, or exit 2 with the closest match."""
    from vllm_course.course.manifest import ManifestError, course

    try:
        return course().lesson(lesson_id)
    except ManifestError:
        known = [l.id for l in course().lessons]
        close = course().closest_lesson(lesson_id)
        hint = f" Did you mean {close}?" if close else ""
        print(f"{command}: no lesson {lesson_id!r} in course.yaml (lessons: "
              f"{', '.join(known)}).{hint}", file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_grade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vllm_course.instructor.class_grading import grade_class, limits_from

    from vllm_course.instructor.ray_grading import shape_for

    lesson = _lesson_or_exit(args.lesson, "course grade")
    limits = limits_from(args)
    slot = None
    if args.ray is not None:
        try:  # checked before anything starts
            shape_for(limits, args.cpus_per_slot, args.gpus_per_slot)
        except ValueError as e:
            print(f"course grade: {e}", file=sys.stderr)
            return 2
        slot = {"cpus_per_slot": args.cpus_per_slot, "gpus_per_slot": args.gpus_per_slot}
    elif args.cpus_per_slot != 1.0 or args.gpus_per_slot:
        print("course grade: --cpus-per-slot and --gpus-per-slot size Ray slots: add --ray",
              file=sys.stderr)
        return 2
    return grade_class(lesson, Path(args.folder), Path(args.out), jobs=args.jobs,
                       force=args.force, limits=limits, sandbox=not args.no_sandbox,
                       ray=args.ray, slot=slot)


def _cmd_gradescope(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vllm_course.instructor.gradescope_build import build

    lesson = _lesson_or_exit(args.lesson, "course gradescope")
    out = build(lesson, Path(args.out))
    print(f"wrote {out}: upload it as the autograder of {lesson.id}'s programming assignment "
          "(see lessons/INSTRUCTORS.md, Gradescope)")
    return 0


def _study(name: str):
    """A student command from study.py / watch.py, run with clear errors."""
    def run(args: argparse.Namespace) -> int:
        from vllm_course.student import study

        if name == "watch":
            from vllm_course.student.watch import watch as command
        else:
            command = getattr(study, name)
        kwargs = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
        try:
            return command(**kwargs)
        except study.StudyError as e:
            print(f"course {name}: {e}", file=sys.stderr)
            return 2
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course", description="The vLLM course kit. With no command: your progress board.")
    sub = parser.add_subparsers(dest="command")

    status = sub.add_parser("status", help="your progress board, one line per lesson (the default)")
    status.set_defaults(func=_study("status"))
    nxt = sub.add_parser("next", help="the first exercise you have not passed, and where to start")
    nxt.set_defaults(func=_study("next_step"))
    watch = sub.add_parser("watch", help="grade a lesson, and regrade on every save")
    watch.add_argument("lesson_id", nargs="?", metavar="LESSON",
                       help="e.g. lesson01 (default: your first unfinished lesson)")
    watch.add_argument("--target", default=None, metavar="FILE",
                       help="watch and grade this file instead of exercises/<lesson>/ "
                            "(progress is then not saved)")
    watch.set_defaults(func=_study("watch"))
    hint = sub.add_parser("hint", help="the hint for an exercise")
    hint.add_argument("function", metavar="FUNCTION")
    hint.add_argument("--more", action="store_true", help="a more revealing hint")
    hint.set_defaults(func=_study("hint"))
    show = sub.add_parser("show", help="every place that belongs to an exercise")
    show.add_argument("function", metavar="FUNCTION")
    show.set_defaults(func=_study("show"))
    solution = sub.add_parser("solution", help="the reference, once your code passed the exercise")
    solution.add_argument("function", metavar="FUNCTION")
    solution.set_defaults(func=_study("solution"))
    reset = sub.add_parser("reset", help="put back the stub of one function or a whole lesson file")
    reset.add_argument("lesson_id", metavar="LESSON")
    reset.add_argument("function", nargs="?", metavar="FUNCTION")
    reset.add_argument("--yes", action="store_true", help="do not ask first")
    reset.set_defaults(func=_study("reset"))

    model = sub.add_parser("model", help="show which models the course uses, and why")
    model.set_defaults(func=_cmd_model)
    model_sub = model.add_subparsers(dest="model_command")
    build = model_sub.add_parser("build", help="build the offline stand-in model")
    from vllm_course.course.recipes import RECIPES  # stdlib only: cheap at start-up

    build.add_argument("recipe", nargs="?", default="tiny", choices=sorted(RECIPES))
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.set_defaults(func=_cmd_model_build)

    nbgrader = sub.add_parser("nbgrader", help="nbgrader course for instructors")
    nb_sub = nbgrader.add_subparsers(dest="nbgrader_command", required=True)
    nb_build = nb_sub.add_parser("build", help="write an nbgrader course directory")
    nb_build.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. lesson01 (default: all)")
    nb_build.add_argument("--out", required=True, metavar="DIR", help="the course directory to write")
    nb_build.set_defaults(func=_cmd_nbgrader_build)

    stubs = sub.add_parser("stubs", help="regenerate exercises/ from solutions/ (maintainers)")
    stubs.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. lesson01 (default: all)")
    stubs.set_defaults(func=_cmd_stubs)

    grade = sub.add_parser("grade", help="grade a class's submissions of one lesson (instructors)")
    grade.add_argument("lesson", metavar="LESSON", help="e.g. lesson01")
    grade.add_argument("folder", metavar="FOLDER",
                       help="submissions: <student>.py, <student>/<exercise file>, or nbgrader's "
                            "submitted/<student>/<lesson>/*.ipynb")
    grade.add_argument("--out", required=True, metavar="DIR",
                       help="where grades.csv and <student>/results.json go")
    grade.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                       help="submissions graded at once (default: what cores and memory allow)")
    grade.add_argument("--force", action="store_true",
                       help="regrade submissions whose results are already up to date")
    grade.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                       help="per check (default from vllm_course/course/limits.py)")
    grade.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                       help="per submission (default from vllm_course/course/limits.py)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run submissions without namespaces or a uid of their own "
                            "(limits on time, memory and output still hold)")
    grade.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="grade on a Ray cluster: `auto`, `ray://HOST:10001` or HOST:PORT "
                            "(no address: a local Ray instance); -j is then the number of slots")
    grade.add_argument("--cpus-per-slot", type=float, default=1.0, metavar="N",
                       help="CPUs each Ray grading slot asks for (default 1)")
    grade.add_argument("--gpus-per-slot", type=float, default=0.0, metavar="FRACTION",
                       help="fraction of a GPU each Ray grading slot asks for (GPU clusters; "
                            "see lessons/INSTRUCTORS.md)")
    grade.set_defaults(func=_cmd_grade)

    gradescope = sub.add_parser("gradescope", help="build a lesson's Gradescope autograder zip "
                                                   "(instructors)")
    gradescope.add_argument("lesson", metavar="LESSON", help="e.g. lesson01")
    gradescope.add_argument("--out", default="autograder.zip", metavar="ZIP",
                            help="the zip to write (default: autograder.zip)")
    gradescope.set_defaults(func=_cmd_gradescope)

    check = sub.add_parser("check", help="check that every lesson has all its parts (maintainers)")
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    from vllm_course.course.manifest import MANIFEST_PATH, REPO_ROOT, ManifestError

    if not MANIFEST_PATH.is_file():
        print(f"course: the course files are not at {REPO_ROOT} (no course.yaml): run `course` "
              "from the kit's own checkout, installed with `make setup`", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    if args.command is None:
        args.func = _study("status")
    try:
        return args.func(args)
    except ManifestError as e:
        print(f"course: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
