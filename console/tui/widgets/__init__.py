"""Widgets of the main screen, one region each."""
