"""Root conftest: the course notebooks are tests too (collector and fixtures in course/pytest_plugin.py).
The tests keep their compiled programs on disk as the notebooks do (`enot_lite.cache_compilations`)."""
import enot_lite

pytest_plugins = ["course.pytest_plugin"]
enot_lite.cache_compilations()
