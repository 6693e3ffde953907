from django.urls import path

from .consumers import ConsoleConsumer

websocket_urlpatterns: list = [
    path("ws/console/", ConsoleConsumer.as_asgi(), name="ws_console"),
]
