from django.contrib.auth import views as auth_views
from django.urls import path

from django_app.accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    # LoginView checks `next` with url_has_allowed_host_and_scheme itself.
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("verify/send/", views.send_link, name="send-link"),
    path("verify/<str:token>/", views.verify, name="verify"),
]
