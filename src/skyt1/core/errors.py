"""One exception type for problems a user can fix; its message is one line: cause, then fix."""


class SkyT1Error(Exception):
    """A user-facing error. str(e) names the cause and the fix on a single line."""

    def __init__(self, cause: str, fix: str | None = None):
        self.cause = cause
        self.fix = fix
        msg = cause if not fix else f"{cause} -- fix: {fix}"
        super().__init__(" ".join(msg.split()))
