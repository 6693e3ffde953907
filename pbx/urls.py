from django.contrib import admin
from django.urls import include, path

from portal.emails import CompanyEmailView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/email/", CompanyEmailView.as_view(), name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("portal.urls")),
]
