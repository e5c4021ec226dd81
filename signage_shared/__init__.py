"""Code both the kiosk and the server need, kept tiny, pure and free of dependencies.

The kiosk never imports ``signage_server`` and the server never imports ``kiosk``; what
both must agree on to the bit (the rotating presence token) lives here once.
"""
