from django.urls import path

from . import views

app_name = "wallboard"

urlpatterns = [
    path("wallboard/", views.wallboard, name="wallboard"),
    path("wallboard/<int:layout_id>/", views.wallboard, name="layout"),
    path("wallboard/tv/<str:token>/", views.wallboard_tv, name="tv"),
]
