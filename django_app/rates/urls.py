from django.urls import path

from django_app.rates import views

app_name = "rates"

urlpatterns = [
    path("", views.index, name="index"),
]
