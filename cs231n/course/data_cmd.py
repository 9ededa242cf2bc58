"""``cs231n data``: download, generate, verify and locate the course's data sets."""


def register(sub):  # replaced by the data helper
    p = sub.add_parser("data", help="download, generate, verify and locate data sets")
    p.set_defaults(func=lambda args: print("not yet implemented") or 1)
