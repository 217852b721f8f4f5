"""Lambda entry points. Each module sets Django up once per cold start, then hands off."""
