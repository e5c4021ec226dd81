"""Default content (promo videos, install posters, default playlist) and its build script."""
