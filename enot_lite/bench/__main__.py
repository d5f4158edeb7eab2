"""`python -m enot_lite.bench`: see `enot_lite.bench`."""
from enot_lite.bench import main

main()
