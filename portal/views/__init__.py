"""The portal's pages: the home page and the user web ("Mina sidor") under /me/."""

from .home import home, roles_of

__all__ = ["home", "roles_of"]
