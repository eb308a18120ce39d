"""Route modules of the ``api`` function; importing this package registers every route on
:data:`TABLE`. A new feature adds a module here (routes and their models) and one import below."""

from functions.routes import circuits, meetings, meta, predictions, races, sessions, subscriptions, v1
from functions.routes.table import TABLE

__all__ = ["TABLE", "circuits", "meetings", "meta", "predictions", "races", "sessions", "subscriptions", "v1"]
