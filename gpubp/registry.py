"""Tables of declarations by name (activations, losses): what ``register`` does for each."""

from .errors import ConfigError


def add(table, cls, base, kind):
    """Put the declaration ``cls`` (a subclass of ``base``) in ``table`` under ``cls.name``: a
    name is taken once; adding the same class again does nothing. Returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"register takes {'an' if base.__name__[0] in 'AEIOU' else 'a'} "
                          f"{base.__name__} subclass; got {cls!r}")
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise ConfigError(f"a {kind}'s name must be an identifier; {cls.__name__} has "
                          f"name={cls.name!r}")
    if table.get(cls.name, cls) is not cls:
        raise ConfigError(f"{kind} name {cls.name!r} is taken by {table[cls.name].__name__}")
    table[cls.name] = cls
    return cls
