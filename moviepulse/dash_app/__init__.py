"""The admin dashboard: a Dash app mounted at ``/admin/`` on the MoviePulse Flask app.

Modules, each with one job:

* ``mount.init_dashboard(app, pulse)`` — creates the Dash app (called from the ``dashboard``
  plugin's ``startup``), installs the ``/admin/`` guard, registers every callback on it.
* ``auth`` — login/logout views (Flask-WTF, CSRF), the guard; ``throttle`` (failed logins),
  ``redirects.safe_next`` (local ``next`` only).
* ``shell`` — navigation, filter bar, auto-refresh, page routing; ``filters`` — the URL/store
  filter state (``Filters``); ``pages`` — ``CORE_PAGES`` and which widgets a page shows;
  ``plugins_page`` — the Plugins page.
* ``widget.Widget`` (``moviepulse.Widget``) — the widget base class; ``widgets/`` — the
  built-in widgets; ``components`` — stat tiles, tables, badges; ``data`` — access to the
  query modules (never tables); ``theme`` — every colour, font and axis format;
  ``figure.Fig`` — a fast figure-dict builder; ``testing`` — call callbacks from tests.

Importing this package is cheap: nothing here imports Dash until a submodule is used.
"""
