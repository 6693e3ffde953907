from allauth.account.adapter import DefaultAccountAdapter


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """People are created by their company admin, never by signing up themselves."""

    def is_open_for_signup(self, request) -> bool:
        return False
