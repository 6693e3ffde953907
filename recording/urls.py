from django.urls import path

from . import config_views, views

app_name = "recording"

urlpatterns = [
    path("", views.start, name="start"),
    path("list/", views.recording_list, name="list"),
    path("delete/", views.delete_recordings, name="delete"),
    path("<int:recording_id>/", views.recording_detail, name="detail"),
    path("<int:recording_id>/audio/", views.audio, name="audio"),
    path("<int:recording_id>/download/", views.download, name="download"),
    path("<int:recording_id>/evaluate/", views.evaluate, name="evaluate"),
    path("<int:recording_id>/share/", views.share, name="share"),
    path("shares/<int:share_id>/revoke/", views.revoke_share, name="revoke_share"),
    path("s/<str:token>/", views.shared, name="shared"),
    path("s/<str:token>/audio/", views.shared_audio, name="shared_audio"),
    path("settings/", config_views.policy, name="policy"),
    path("settings/kill-switch/", config_views.kill_switch, name="kill_switch"),
    path("settings/evaluation/", config_views.evaluation, name="evaluation"),
    path("settings/roles/", config_views.roles, name="roles"),
    path("settings/licences/", config_views.licences, name="licences"),
    path("settings/licences/end/", config_views.end_listen_in, name="end_listen_in"),
    path("settings/<slug:kind>/<int:object_id>/delete/", config_views.delete_config, name="delete_config"),
]
