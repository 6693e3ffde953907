"""Django admin: company admins manage their own company, superusers every company.

The tenant scoping lives in ``base``; the admin classes are split by area like the models.
"""

from django.contrib import admin

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

# One login for everyone: /admin/login/ sends to allauth's (its rate limits apply to the admin too).
admin.site.login = admin_login
