from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from portal import sso
from portal.emails import CompanyEmailView
from portal.licence import licence_page
from portal.views import account
from portal.views.provisioning import provision

urlpatterns = [
    path("admin/", admin.site.urls),
    # A phone's provisioning files, at the device's secret URL (pbx/provisioning.py).
    path("provision/<str:token>/<str:filename>", provision, name="provision"),

    path("api/v1/", include("api.urls")),
    path("accounts/email/", CompanyEmailView.as_view(), name="account_email"),
    path("accounts/licence/", licence_page, name="account_licence"),
    # SSO: allauth's OpenID Connect paths, served with the ID token's signature always checked.
    path("accounts/", include(sso.urlpatterns)),
    path("accounts/2fa/email/", account.email_code, name="portal_mfa_email"),
    path("accounts/language/", account.language, name="portal_language"),
    path("accounts/sessions/<int:session_id>/end/", account.end_session, name="portal_end_session"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", RedirectView.as_view(url=static("portal/favicon.svg"), permanent=True)),
    path("", include("wallboard.urls")),
    path("stats/", include("stats.urls")),

    path("recordings/", include("recording.urls")),
    path("", include("portal.urls")),
]

# The API answers an unknown path with a problem (application/problem+json); the site with its page.
handler404 = "api.problems.page_not_found"
