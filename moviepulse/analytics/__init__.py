"""MoviePulse analytics: rollups, audiences, CTR, funnels, experiment statistics,
reconciliation, queue statistics and the trends leaderboard.

Widgets and the admin API call :mod:`moviepulse.analytics.queries`; the public site calls
:func:`moviepulse.analytics.trends.leaderboard`.
"""
