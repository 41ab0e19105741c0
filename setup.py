"""The one packaging rule pyproject.toml cannot say: install the top-level profiles/ as devhub.profiles_data."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["devhub*", "relay*"]), "devhub.profiles_data"],
    package_dir={"devhub.profiles_data": "profiles"},
)
