"""Mount the Dash dashboard at ``/admin/`` on a Flask app (called from the dashboard plugin).

One Dash app per Flask app: assets (vendored Bootstrap) and Dash's JS are served locally,
the layout is a function (fresh CSRF token and filters per load), and every callback is
registered on this Dash app. The ``/admin/`` guard is installed before Dash's own hooks.
"""

from __future__ import annotations

import os
from typing import Any

from dash import Dash

from moviepulse.dash_app import theme
from moviepulse.dash_app.auth import guard_admin, no_store
from moviepulse.dash_app.security import install_security_headers
from moviepulse.dash_app.shell import layout, register_shell_callbacks

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
EXTENSION_KEY = "moviepulse.dash"


def init_dashboard(app: Any, pulse: Any) -> Dash:
    """Create the Dash app on ``app`` and register the shell's and every widget's callbacks."""
    if EXTENSION_KEY in app.extensions:
        return app.extensions[EXTENSION_KEY]
    app.before_request(guard_admin)
    app.after_request(no_store)
    theme.register_template()
    # The plotly.js "basic" bundle (bar, scatter, pie: 1.2 MB) in assets/ replaces the full one
    # (4.8 MB) that dcc.Graph would fetch: dcc uses ``window.Plotly`` when it exists. Plugins
    # needing other trace types set DASHBOARD_PLOTLY_BUNDLE = "full".
    full_plotly = str(pulse.setting("DASHBOARD_PLOTLY_BUNDLE", "basic")).lower() == "full"
    dash_app = Dash(
        "moviepulse.dashboard",
        server=app,
        url_base_pathname="/admin/",
        assets_folder=ASSETS,
        assets_ignore=r"plotly-basic\.min\.js" if full_plotly else "",
        serve_locally=True,
        suppress_callback_exceptions=True,
        title=f"{app.config.get('SITE_NAME', 'MoviePulse')} admin",
        update_title=None,
        external_stylesheets=["/admin/theme.css"],
        compress=False,
    )
    dash_app.layout = lambda: layout(pulse)
    register_shell_callbacks(dash_app, pulse)
    from moviepulse.dash_app.pages import widget_instance

    for cls in pulse.widgets:
        widget = widget_instance(pulse, cls)
        widget.register_callbacks(dash_app, widget.ids())
    install_security_headers(app, dash_app)
    app.extensions[EXTENSION_KEY] = dash_app
    return dash_app
