"""Officer console: a web page served by the bot under ``/console`` (issue 20).

``plugins.console.app`` builds it (:class:`~plugins.console.app.Console`,
:func:`~plugins.console.app.mount_console`); nothing here runs at plugin load
until the bot's start-up mounts it, so loading this package costs nothing.
"""
