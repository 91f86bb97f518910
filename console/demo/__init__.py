"""`kanri demo`: the digits example trained, registered and served at three levels, with live traffic.

The demo lives in a home of its own (`demo_home()`), never in the user's registry.
"""
