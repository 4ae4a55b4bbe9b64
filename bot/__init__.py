"""newsbot: publish each new post of a Jekyll news blog to Telegram and X, exactly once."""

__version__ = "0.1.0"
