"""Sign-up and confirming an email address. Login and logout are Django's own views
(see urls.py), guarded against password guessing by django-axes."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from django_app.accounts import verification
from django_app.accounts.forms import SignUpForm
from django_app.accounts.tasks import send_verification_email
from django_app.accounts.throttle import allow_signup
from django_app.jobs import services
from django_app.redirects import safe_next

TOO_MANY_SIGNUPS = "Too many sign-ups from your network in the last hour. Please try again later."


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and sign in at once, then go to `next` if it is on this site.
    A link to confirm the address is mailed; nothing else is, until it is followed."""
    if request.user.is_authenticated:
        return redirect(safe_next(request, "reports:index"))
    form = SignUpForm(request.POST if request.method == "POST" else None)
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.method == "POST":
        if not allow_signup(request):
            form.add_error(None, TOO_MANY_SIGNUPS)
            context = {"form": form, "next": next_url}
            return render(request, "accounts/signup.html", context, status=429)
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            _mail_link(user)
            return redirect(safe_next(request, "reports:index"))
    return render(request, "accounts/signup.html", {"form": form, "next": next_url})


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: a page with a button, which confirms the address."""
    if request.method == "GET":
        return render(request, "accounts/verify.html", {"token": token})
    user = verification.confirm(token)
    if user is None:
        messages.error(request, "That link is invalid or has expired. Ask for a new one.")
    else:
        messages.success(request, f"Thank you: {user.email} is confirmed.")
    return redirect("reports:index" if request.user.is_authenticated else "accounts:login")


@login_required
@require_POST
def send_link(request: HttpRequest) -> HttpResponse:
    """Mail the confirmation link again (at most once per ACCOUNTS_VERIFY_RESEND)."""
    if verification.is_verified(request.user):
        messages.info(request, "Your email address is confirmed already.")
    elif _mail_link(request.user):
        messages.success(request, f"A new link is on its way to {request.user.email}.")
    else:
        messages.error(request, "A link was sent a few minutes ago: please check your inbox.")
    return redirect(safe_next(request, "reports:index"))


def _mail_link(user: object) -> bool:
    if not verification.claim_sending(user):
        return False
    services.start(user, send_verification_email, user.pk, label="Email: confirm your address")
    return True
