"""Django admin: company admins manage their own company, superusers every company.

The tenant scoping lives in ``base``; the admin classes are split by area like the models.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.auth import admin_login

from . import (  # noqa: F401 - they register the admins
    callbacks,
    callflow,
    directory,
    numbers,
    presence,
    queues,
    tenants,
)

admin.site.site_header = _("Växel admin")
admin.site.site_title = _("Växel admin")
admin.site.index_title = _("Company administration")
# One login for everyone: /admin/login/ sends to allauth's (its rate limits apply to the admin too).
admin.site.login = admin_login
