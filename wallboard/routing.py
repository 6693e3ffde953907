from django.urls import path

from .consumers import WallboardConsumer

websocket_urlpatterns: list = [
    path("ws/wallboard/<int:layout_id>/", WallboardConsumer.as_asgi(), name="ws_wallboard"),
    path("ws/wallboard/tv/<str:token>/", WallboardConsumer.as_asgi(), name="ws_wallboard_tv"),
]
