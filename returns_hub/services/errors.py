"""The error every people's action raises when it does not apply: the API's 409."""


class ActionError(ValueError):
    """The action does not apply to the object as it stands; the message says why."""
