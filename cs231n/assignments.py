"""The course's three assignments, by name: what a command like ``cs231n collect
assignment2`` accepts (``assignment2``, ``2`` or ``a2``)."""

ASSIGNMENTS = {"assignment1": 1, "assignment2": 2, "assignment3": 3}


class UnknownAssignment(ValueError):
    """A name that is none of the assignments."""


def parse_assignment(name):
    """'assignment2', '2' or 'a2' -> ('assignment2', 2)."""
    key = str(name).strip().lower().removeprefix("assignment").removeprefix("a")
    full = f"assignment{key}"
    if full not in ASSIGNMENTS:
        raise UnknownAssignment(
            f"unknown assignment {name!r}; choose one of {', '.join(ASSIGNMENTS)}."
        )
    return full, ASSIGNMENTS[full]
