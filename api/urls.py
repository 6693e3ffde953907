"""``/api/v1/``: one router; add a resource with ``router.register`` (the webhooks' endpoints come the same way)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from .views import calls, directory, keys, people, recordings, routing, stats, webhooks

router = DefaultRouter()
router.include_format_suffixes = False
router.register("people", directory.PersonViewSet, basename="person")
router.register("devices", directory.DeviceViewSet, basename="device")
router.register("departments", directory.DepartmentViewSet, basename="department")
router.register("offices", directory.OfficeViewSet, basename="office")
router.register("cost-centres", directory.CostCentreViewSet, basename="costcentre")
router.register("numbers", routing.NumberViewSet, basename="number")
router.register("destinations", routing.DestinationViewSet, basename="destination")
router.register("queues", routing.QueueViewSet, basename="queue")
router.register("queue-agents", routing.QueueAgentViewSet, basename="queueagent")
router.register("menus", routing.IvrMenuViewSet, basename="menu")
router.register("menu-options", routing.IvrOptionViewSet, basename="menuoption")
router.register("schedules", routing.ScheduleViewSet, basename="schedule")
router.register("weekly-hours", routing.WeeklyHoursViewSet, basename="weeklyhours")
router.register("special-days", routing.SpecialDayViewSet, basename="specialday")
router.register("prompts", routing.PromptViewSet, basename="prompt")
router.register("voicemail-boxes", routing.VoicemailBoxViewSet, basename="voicemailbox")
router.register("conferences", routing.ConferenceViewSet, basename="conference")
router.register("presence-statuses", people.PresenceStatusViewSet, basename="presencestatus")
router.register("forwarding-profiles", people.ForwardingProfileViewSet, basename="forwardingprofile")
router.register("call-logs", calls.CallLogViewSet, basename="calllog")
router.register("queue-events", calls.QueueEventViewSet, basename="queueevent")
router.register("calls/live", calls.LiveCallViewSet, basename="livecall")
router.register("api-keys", keys.ApiKeyViewSet, basename="apikey")
router.register("webhook-endpoints", webhooks.WebhookEndpointViewSet, basename="webhookendpoint")
router.register("recordings", recordings.RecordingViewSet, basename="recording")

VOICEMAIL = "voicemail/<int:box_id>/<slug:folder>/<int:number>/"

urlpatterns = [
    path("company/", directory.CompanyView.as_view(), name="company"),
    path("voicemail/", people.VoicemailListView.as_view(), name="voicemail"),
    path(VOICEMAIL, people.VoicemailMessageView.as_view(), name="voicemail-message"),
    path(VOICEMAIL + "heard/", people.VoicemailHeardView.as_view(), name="voicemail-heard"),
    path(VOICEMAIL + "audio/", people.VoicemailAudioView.as_view(), name="voicemail-audio"),
    path("stats/queues/", stats.QueueStatsView.as_view(), name="stats-queues"),
    path("stats/agents/", stats.AgentStatsView.as_view(), name="stats-agents"),
    path("stats/volumes/", stats.VolumeStatsView.as_view(), name="stats-volumes"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # Both pages load only the site's own files (api/templates/api/: no CDN, no inline script). Swagger UI keeps
    # to the site's CSP as it is; Redoc builds its styles at run time (styled-components inserts <style>
    # elements), so this one page's style-src also allows inline styles. Its scripts stay 'self' only.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
         name="swagger"),
    path("redoc/", csp_update({"style-src": [UNSAFE_INLINE]})(
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")), name="redoc"),
    path("", include(router.urls)),
]

app_name = "api"
