"""Screens: the main views (modes) and the pushed ones (detail, logs, scheduler decision, ...)."""
