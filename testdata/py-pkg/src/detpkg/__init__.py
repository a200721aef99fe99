"""det test fixture: a one-module package for wheel and sdist reproducibility tests."""


def greet(name: str) -> str:
    return f"hello, {name}"
