"""The sign-up form: Django's, plus the email address reports are sent to."""

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.forms import EmailField


class SignUpForm(UserCreationForm):
    email = EmailField(
        required=True, help_text="Finished reports are emailed here, with a download link."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")
