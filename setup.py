"""The one packaging fact pyproject.toml cannot state: ``lessons/`` ships inside the package.

The lessons live at the top of the repository, where teachers and the docs
expect them; wheels and sdists carry them as the package
``kubetui.lessons.library`` (``package-dir`` in pyproject.toml maps it onto
``lessons/``), so a normal ``pip install`` has them too. pyproject.toml's
``packages.find`` cannot list a package that has no folder of its own under
``kubetui/``, hence this file. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["kubetui*"]) + ["kubetui.lessons.library"])
