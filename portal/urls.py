from django.urls import path

from . import views
from .views import callerid, calling, console, forwarding, history, overview, phone_codes, queues, status, voicemail

app_name = "portal"

# The user web ("Mina sidor"): everything about the signed-in person, nothing else.
me = [
    path("me/", overview.overview, name="me"),
    path("me/call/", calling.call, name="me_call"),
    path("me/status/", status.status, name="me_status"),
    path("me/status/clear/", status.clear_status, name="me_status_clear"),
    path("me/profiles/", forwarding.profiles, name="me_profiles"),
    path("me/profiles/off/", forwarding.profile_deactivate, name="me_profiles_off"),
    path("me/profiles/<int:profile_id>/", forwarding.profile_edit, name="me_profile"),
    path("me/profiles/<int:profile_id>/activate/", forwarding.profile_activate, name="me_profile_activate"),
    path("me/profiles/<int:profile_id>/delete/", forwarding.profile_delete, name="me_profile_delete"),
    path("me/caller-id/", callerid.caller_id, name="me_caller_id"),
    path("me/voicemail/", voicemail.voicemail, name="me_voicemail"),
    path("me/voicemail/<int:box_id>/<slug:folder>/<int:number>/audio/", voicemail.voicemail_audio,
         name="me_voicemail_audio"),
    path("me/voicemail/<int:box_id>/<slug:folder>/<int:number>/heard/", voicemail.voicemail_heard,
         name="me_voicemail_heard"),
    path("me/voicemail/<int:box_id>/<slug:folder>/<int:number>/delete/", voicemail.voicemail_delete,
         name="me_voicemail_delete"),
    path("me/queues/", queues.queues, name="me_queues"),
    path("me/queues/<int:agent_id>/", queues.queue_agent, name="me_queue_agent"),
    path("me/calls/", history.calls, name="me_calls"),
    path("me/phone-codes/", phone_codes.phone_codes, name="me_phone_codes"),
]

# The operator console ("telefonist"): one live page; its data comes over ws/console/ (portal/consumers.py).
operator = [path("console/", console.console, name="console")]

urlpatterns = [path("", views.home, name="home"), *me, *operator]
