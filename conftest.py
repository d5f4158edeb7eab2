"""Root conftest: the course notebooks are tests too (collector and fixtures in course/pytest_plugin.py)."""
pytest_plugins = ["course.pytest_plugin"]
